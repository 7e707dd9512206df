"""What every peer server shares: its command line and one ONNX Runtime session.

Each peer is started by bench/peers.ts as `python <peer>.py --model PATH --name NAME --port N`
and serves the model at POST /v2/models/NAME/infer (KServe V2 JSON), with the batching its
framework offers set like kinfer's defaults (up to 64, 2 ms).
"""

from __future__ import annotations

import argparse

import numpy as np
import onnxruntime as ort

MAX_BATCH = 64
MAX_DELAY_S = 0.002


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="path of the ONNX file")
    parser.add_argument("--name", required=True, help="served as /v2/models/NAME")
    parser.add_argument("--port", type=int, required=True)
    return parser.parse_args()


def session(path: str) -> ort.InferenceSession:
    """One intra-op thread, as each of kinfer's inference workers has."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def classify(s: ort.InferenceSession, images: np.ndarray) -> np.ndarray:
    return s.run(["probabilities"], {"input": images})[0]


def split(probabilities: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """A batch's answer cut back into the requests it came from."""
    return np.split(probabilities, np.cumsum(sizes)[:-1])


def v2_input(body: dict) -> np.ndarray:
    tensor = body["inputs"][0]
    return np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])


def v2_output(name: str, probabilities: np.ndarray) -> dict:
    return {
        "model_name": name,
        "outputs": [
            {
                "name": "probabilities",
                "shape": list(probabilities.shape),
                "datatype": "FP32",
                "data": probabilities.ravel().tolist(),
            }
        ],
    }
