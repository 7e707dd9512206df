"""Seldon MLServer: a custom runtime (MLServer ships none for ONNX), adaptive batching on
(max_batch_size 64, max_batch_time 2 ms, set in model-settings.json by bench/peers.ts)."""

from __future__ import annotations

from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse

from common import classify, session


class Digits(MLModel):
    async def load(self) -> bool:
        self.model = session(self.settings.parameters.uri)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        probabilities = classify(self.model, NumpyCodec.decode_input(payload.inputs[0]))
        return InferenceResponse(
            model_name=self.name, outputs=[NumpyCodec.encode_output("probabilities", probabilities)]
        )
