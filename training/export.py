"""Export a trained model to ONNX, check it, pick fp32 or int8, write the model card and checksum.

    python -m training.export --model mnist-cnn        # the committed mnist-cnn: fp32 only
    python -m training.export --model mnist-small      # fp32 and int8 measured, the better kept

Reads training/artifacts/<model>.{pt,run.json}; writes models/<model>/{model.onnx,
model.onnx.sha256,MODEL_CARD.md}; logs the candidates, the measurements and the kept file to the
model's training run in MLflow.

Two candidates: the fp32 export, and (--variant auto or int8) its static int8 quantization
calibrated on training digits (training/quantize.py). Both are measured here, in ONNX Runtime with
one thread: test accuracy and images per CPU-second at batch 1 and 64. With --variant auto the
int8 file is kept only if it is faster at both batch sizes by at least INT8_MIN_GAIN and loses at
most INT8_MAX_EXTRA_ERRORS test digits against fp32; otherwise fp32. Speed depends on the CPU
(int8 gains most with AVX-512 VNNI), so the choice is the exporting machine's: the card records it.

Fails (exit 1) if the fp32 file's probabilities differ from PyTorch's by more than 1e-5 on 1000
test images, or if a file's names, shapes or opset are not the agreed ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

from training import data, measure  # noqa: E402
from training.model import ARCHITECTURES, MNIST_MEAN, MNIST_STD, WithSoftmax  # noqa: E402
from training.model_card import render_model_card  # noqa: E402
from training.quantize import calibration_set, quantize  # noqa: E402
from training.train import ARTIFACTS_DIR, artifact_paths, use_experiment  # noqa: E402

REPO_DIR = Path(__file__).resolve().parent.parent
OPSET = 18
TOLERANCE = 1e-5
CHECK_IMAGES = 1000
CALIBRATION_IMAGES = 2000
CALIBRATION_SEED = 0
INT8_MIN_GAIN = 1.1
INT8_MAX_EXTRA_ERRORS = 5
# What `--variant` defaults to: the committed mnist-cnn predates int8 and stays fp32.
DEFAULT_VARIANT = {"mnist-cnn": "fp32"}


class ExportError(RuntimeError):
    pass


def export(model: torch.nn.Module, path: Path, name: str) -> None:
    wrapped = WithSoftmax(model).eval()
    example = torch.zeros(2, 1, 28, 28)
    batch = torch.export.Dim("N", min=1, max=65536)
    program = torch.onnx.export(
        wrapped,
        (example,),
        input_names=["input"],
        output_names=["probabilities"],
        dynamic_shapes=({0: batch},),
        opset_version=OPSET,
        dynamo=True,
        external_data=False,
    )
    program.optimize()
    proto = program.model_proto
    proto.doc_string = f"kinfer {name}: [N,1,28,28] pixels 0..1 white-on-black -> [N,10] softmax"
    proto.producer_name = "kinfer training.export"
    onnx.checker.check_model(proto, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(path), save_as_external_data=False)


def check_interface(path: Path) -> dict[str, object]:
    proto = onnx.load(str(path))
    opset = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 17:
        raise ExportError(f"{path.name}: opset {opset} < 17")
    inputs = [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim],
               i.type.tensor_type.elem_type) for i in proto.graph.input]
    outputs = [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim],
                o.type.tensor_type.elem_type) for o in proto.graph.output]
    f32 = onnx.TensorProto.FLOAT
    if len(inputs) != 1 or inputs[0][0] != "input" or inputs[0][2] != f32 or inputs[0][1][1:] != [1, 28, 28] \
            or not isinstance(inputs[0][1][0], str):
        raise ExportError(f"{path.name}: unexpected inputs {inputs}")
    if len(outputs) != 1 or outputs[0][0] != "probabilities" or outputs[0][2] != f32 \
            or outputs[0][1][1:] != [10] or not isinstance(outputs[0][1][0], str):
        raise ExportError(f"{path.name}: unexpected outputs {outputs}")
    return {"opset": opset, "input_shape": inputs[0][1], "output_shape": outputs[0][1]}


def evaluate(path: Path, x: np.ndarray, labels: np.ndarray) -> dict[str, object]:
    """Accuracy facts and speed of one candidate file."""
    probs = measure.probabilities(path, x)
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        raise ExportError(f"{path.name}: probabilities do not sum to 1")
    predicted = probs.argmax(axis=1)
    return {
        "probabilities": probs,
        "accuracy": float((predicted == labels).mean()),
        "errors": int((predicted != labels).sum()),
        "per_class_accuracy": [float((predicted[labels == d] == d).mean()) for d in range(10)],
        "images_per_cpu_second": {b: measure.images_per_cpu_second(path, x, b) for b in (1, 64)},
        "size_bytes": path.stat().st_size,
    }


def choose(candidates: dict[str, dict], variant: str) -> tuple[str, str]:
    """(kept variant, why) under the rule in this module's docstring."""
    if variant != "auto":
        return variant, f"--variant {variant}"
    fp32, int8 = candidates["fp32"], candidates["int8"]
    gains = {b: int8["images_per_cpu_second"][b] / fp32["images_per_cpu_second"][b] for b in (1, 64)}
    extra = int8["errors"] - fp32["errors"]
    said = f"int8/fp32 images per CPU-second {gains[1]:.2f}x at batch 1, {gains[64]:.2f}x at batch 64; " \
           f"{extra:+d} test errors"
    if min(gains.values()) >= INT8_MIN_GAIN and extra <= INT8_MAX_EXTRA_ERRORS:
        return "int8", said
    return "fp32", said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(ARCHITECTURES), default="mnist-cnn")
    parser.add_argument("--variant", choices=["auto", "fp32", "int8"])
    args = parser.parse_args()
    name = args.model
    variant = args.variant or DEFAULT_VARIANT.get(name, "auto")
    model_dir = REPO_DIR / "models" / name
    onnx_path = model_dir / "model.onnx"

    torch.set_num_threads(2)
    weights_path, run_path = artifact_paths(name)
    run = json.loads(run_path.read_text())
    model = ARCHITECTURES[name]()
    model.load_state_dict(torch.load(weights_path, weights_only=True))
    model.eval()

    images, labels = data.load("t10k")
    x = (images.astype(np.float32) / 255.0)[:, None, :, :]
    files = {"fp32": ARTIFACTS_DIR / f"{name}.fp32.onnx"}
    export(model, files["fp32"], name)
    interface = check_interface(files["fp32"])
    if variant != "fp32":
        train_images, _ = data.load("train")
        files["int8"] = ARTIFACTS_DIR / f"{name}.int8.onnx"
        quantize(files["fp32"], files["int8"], calibration_set(train_images, CALIBRATION_IMAGES, CALIBRATION_SEED))
        check_interface(files["int8"])

    candidates = {v: evaluate(path, x, labels) for v, path in files.items()}
    fp32 = candidates["fp32"]
    with torch.no_grad():
        torch_probs = WithSoftmax(model).eval()(torch.from_numpy(x[:CHECK_IMAGES])).numpy()
    max_diff = float(np.abs(fp32["probabilities"][:CHECK_IMAGES] - torch_probs).max())
    print(f"max |onnx fp32 - torch| over {CHECK_IMAGES} test images: {max_diff:.3e}")
    if not max_diff <= TOLERANCE:
        raise ExportError(f"ONNX differs from PyTorch by {max_diff:.3e} > {TOLERANCE:.0e}")
    if abs(fp32["accuracy"] - run["test_accuracy"]) > 1e-3:
        raise ExportError(f"ONNX accuracy {fp32['accuracy']} far from training's {run['test_accuracy']}")
    for v, c in candidates.items():
        ips = c["images_per_cpu_second"]
        print(f"{v}: {c['accuracy'] * 100:.2f}% ({c['errors']} errors), {ips[1]:.0f} img/cpu-s at batch 1, "
              f"{ips[64]:.0f} at batch 64, {c['size_bytes']:,} bytes")
    kept, why = choose(candidates, variant)
    print(f"kept {kept}: {why}")

    model_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(files[kept], onnx_path)
    blob = onnx_path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    (model_dir / "model.onnx.sha256").write_text(f"{digest}  model.onnx\n")
    chosen = candidates[kept]
    agreement = float((chosen["probabilities"].argmax(1) == fp32["probabilities"].argmax(1)).mean())
    facts = {
        **run,
        **interface,
        "name": name,
        "variant": kept,
        "choice": why,
        "candidates": {v: {k: c[k] for k in ("accuracy", "errors", "images_per_cpu_second", "size_bytes")}
                       for v, c in candidates.items()},
        "calibration_images": CALIBRATION_IMAGES,
        "onnx_test_accuracy": chosen["accuracy"],
        "errors": chosen["errors"],
        "per_class_accuracy": chosen["per_class_accuracy"],
        "max_abs_diff": max_diff,
        "agreement_with_fp32": agreement,
        "sha256": digest,
        "size_bytes": len(blob),
        "params": sum(p.numel() for p in model.parameters()),
        "onnxruntime": ort.__version__,
        "cpu": cpu_name(),
        "mean": MNIST_MEAN,
        "std": MNIST_STD,
    }
    (model_dir / "MODEL_CARD.md").write_text(render_model_card(facts))

    use_experiment(name)
    with mlflow.start_run(run_id=run["run_id"]):
        metrics = {"onnx_test_accuracy": chosen["accuracy"], "onnx_max_abs_diff": max_diff}
        for v, c in candidates.items():
            metrics[f"{v}_test_accuracy"] = c["accuracy"]
            for b, rate in c["images_per_cpu_second"].items():
                metrics[f"{v}_images_per_cpu_second_batch{b}"] = rate
        mlflow.log_metrics(metrics)
        mlflow.set_tag("kept_variant", kept)
        for path in files.values():
            mlflow.log_artifact(str(path))
        mlflow.log_artifact(str(onnx_path))
        mlflow.log_artifact(str(model_dir / "MODEL_CARD.md"))
    print(json.dumps({"onnx": str(onnx_path), "variant": kept, "sha256": digest, "bytes": len(blob),
                      "test_accuracy": chosen["accuracy"], "opset": interface["opset"]}))


def cpu_name() -> str:
    """The CPU model and whether it has AVX-512 VNNI (what int8 speed depends on most)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                 "unknown CPU")
    return f"{model}, {'with' if 'avx512_vnni' in info else 'without'} AVX-512 VNNI"


if __name__ == "__main__":
    try:
        main()
    except ExportError as error:
        print(f"export failed: {error}", file=sys.stderr)
        sys.exit(1)
