"""Export the trained CNN to ONNX, check it against PyTorch, write the model card and checksum.

    python -m training.export

Reads training/artifacts/{mnist-cnn.pt,run.json}; writes models/mnist-cnn/{model.onnx,
model.onnx.sha256,MODEL_CARD.md}; logs the ONNX file to the training run in MLflow.
Fails (exit 1) if ONNX Runtime's probabilities differ from PyTorch's by more than 1e-5 on 1000
test images, or if the graph's names, shapes or opset are not the agreed ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

from training import data  # noqa: E402
from training.model import MNIST_MEAN, MNIST_STD, DigitCNN, WithSoftmax  # noqa: E402
from training.model_card import render_model_card  # noqa: E402
from training.train import ARTIFACTS_DIR, use_experiment  # noqa: E402

REPO_DIR = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO_DIR / "models" / "mnist-cnn"
ONNX_PATH = MODEL_DIR / "model.onnx"
OPSET = 18
TOLERANCE = 1e-5
CHECK_IMAGES = 1000


class ExportError(RuntimeError):
    pass


def export(model: torch.nn.Module, path: Path) -> None:
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
    proto.doc_string = "kinfer mnist-cnn: [N,1,28,28] pixels 0..1 white-on-black -> [N,10] softmax"
    proto.producer_name = "kinfer training.export"
    onnx.checker.check_model(proto, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(path), save_as_external_data=False)


def check_interface(path: Path) -> dict[str, object]:
    proto = onnx.load(str(path))
    opset = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 17:
        raise ExportError(f"opset {opset} < 17")
    inputs = [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim],
               i.type.tensor_type.elem_type) for i in proto.graph.input]
    outputs = [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim],
                o.type.tensor_type.elem_type) for o in proto.graph.output]
    f32 = onnx.TensorProto.FLOAT
    if len(inputs) != 1 or inputs[0][0] != "input" or inputs[0][2] != f32 or inputs[0][1][1:] != [1, 28, 28] \
            or not isinstance(inputs[0][1][0], str):
        raise ExportError(f"unexpected inputs {inputs}")
    if len(outputs) != 1 or outputs[0][0] != "probabilities" or outputs[0][2] != f32 \
            or outputs[0][1][1:] != [10] or not isinstance(outputs[0][1][0], str):
        raise ExportError(f"unexpected outputs {outputs}")
    return {"opset": opset, "input_shape": inputs[0][1], "output_shape": outputs[0][1]}


def main() -> None:
    torch.set_num_threads(2)
    run = json.loads((ARTIFACTS_DIR / "run.json").read_text())
    model = DigitCNN()
    model.load_state_dict(torch.load(ARTIFACTS_DIR / "mnist-cnn.pt", weights_only=True))
    model.eval()

    export(model, ONNX_PATH)
    interface = check_interface(ONNX_PATH)

    images, labels = data.load("t10k")
    x = (images.astype(np.float32) / 255.0)[:, None, :, :]
    session = ort.InferenceSession(str(ONNX_PATH), providers=["CPUExecutionProvider"])
    onnx_probs = np.concatenate(
        [session.run(["probabilities"], {"input": x[i : i + 1000]})[0] for i in range(0, len(x), 1000)]
    )
    with torch.no_grad():
        torch_probs = WithSoftmax(model).eval()(torch.from_numpy(x[:CHECK_IMAGES])).numpy()
    max_diff = float(np.abs(onnx_probs[:CHECK_IMAGES] - torch_probs).max())
    print(f"max |onnx - torch| over {CHECK_IMAGES} test images: {max_diff:.3e}")
    if not max_diff <= TOLERANCE:
        raise ExportError(f"ONNX differs from PyTorch by {max_diff:.3e} > {TOLERANCE:.0e}")
    if not np.allclose(onnx_probs.sum(axis=1), 1.0, atol=1e-5):
        raise ExportError("ONNX probabilities do not sum to 1")
    accuracy = float((onnx_probs.argmax(axis=1) == labels).mean())
    if abs(accuracy - run["test_accuracy"]) > 1e-3:
        raise ExportError(f"ONNX accuracy {accuracy} far from training's {run['test_accuracy']}")

    blob = ONNX_PATH.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    (MODEL_DIR / "model.onnx.sha256").write_text(f"{digest}  model.onnx\n")
    per_class = [
        float((onnx_probs.argmax(axis=1)[labels == d] == d).mean()) for d in range(10)
    ]
    facts = {
        **run,
        **interface,
        "onnx_test_accuracy": accuracy,
        "errors": int((onnx_probs.argmax(axis=1) != labels).sum()),
        "per_class_accuracy": per_class,
        "max_abs_diff": max_diff,
        "sha256": digest,
        "size_bytes": len(blob),
        "params": sum(p.numel() for p in model.parameters()),
        "onnxruntime": ort.__version__,
        "mean": MNIST_MEAN,
        "std": MNIST_STD,
    }
    (MODEL_DIR / "MODEL_CARD.md").write_text(render_model_card(facts))

    use_experiment()
    with mlflow.start_run(run_id=run["run_id"]):
        mlflow.log_metrics({"onnx_test_accuracy": accuracy, "onnx_max_abs_diff": max_diff})
        mlflow.log_artifact(str(ONNX_PATH))
        mlflow.log_artifact(str(MODEL_DIR / "MODEL_CARD.md"))
    print(json.dumps({"onnx": str(ONNX_PATH), "sha256": digest, "bytes": len(blob),
                      "test_accuracy": accuracy, "opset": interface["opset"]}))


if __name__ == "__main__":
    try:
        main()
    except ExportError as error:
        print(f"export failed: {error}", file=sys.stderr)
        sys.exit(1)
