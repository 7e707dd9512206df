"""What an exported ONNX file does in ONNX Runtime: probabilities on a set, and its speed.

Speed is images per CPU-second of this process (one intra-op thread, so CPU time is the model's
work, not spinning), at batch 1 and batch 64: steadier than wall time on a shared machine.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def probabilities(path: Path, images: np.ndarray) -> np.ndarray:
    """[N,10] from the model for float32 images [N,1,28,28], in batches of 1000."""
    s = session(path)
    return np.concatenate(
        [s.run(["probabilities"], {"input": images[i : i + 1000]})[0] for i in range(0, len(images), 1000)]
    )


def images_per_cpu_second(path: Path, images: np.ndarray, batch: int, seconds: float = 2.0) -> float:
    """Best of three rounds of `seconds` each of back-to-back runs on batches of `batch`."""
    s = session(path)
    batches = [images[i * batch : (i + 1) * batch] for i in range(16)]
    for i in range(20):
        s.run(None, {"input": batches[i % 16]})
    best = 0.0
    for _ in range(3):
        done, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
        while time.perf_counter() - wall0 < seconds:
            s.run(None, {"input": batches[(done // batch) % 16]})
            done += batch
        best = max(best, done / (time.process_time() - cpu0))
    return best
