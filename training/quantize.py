"""Static int8 quantization of an exported fp32 ONNX model, calibrated on training digits.

    quantize(fp32_path, int8_path, calibration_images)

ONNX Runtime's QDQ format, weights int8 per output channel, activations uint8, MinMax ranges
over the calibration images (training digits only: the test set is never seen). Input and output
stay float32, so the interface is the fp32 model's: the graph quantizes its own input.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

CALIBRATION_BATCH = 100


class _Digits(CalibrationDataReader):
    """Feeds the calibration images to the calibrator in batches."""

    def __init__(self, images: np.ndarray) -> None:
        self._batches = iter(
            [images[i : i + CALIBRATION_BATCH] for i in range(0, len(images), CALIBRATION_BATCH)]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {"input": batch}


def calibration_set(train_images: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` training digits picked with `seed`, as float32 [count,1,28,28] in 0..1."""
    order = np.random.default_rng(seed).permutation(len(train_images))[:count]
    return (train_images[np.sort(order)].astype(np.float32) / 255.0)[:, None, :, :]


def quantize(fp32_path: Path, int8_path: Path, calibration_images: np.ndarray) -> None:
    with tempfile.TemporaryDirectory(prefix="kinfer-quant-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # Shape inference and graph clean-up first, as ONNX Runtime's quantization guide advises.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(int8_path),
            _Digits(calibration_images),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            # The output stays float probabilities: softmax is not quantized.
            op_types_to_quantize=["Conv", "MaxPool", "GlobalAveragePool", "Gemm", "MatMul", "Relu"],
        )
