"""KServe's Python model server (kserve.ModelServer), one worker. Its request batching lives in
a separate agent container in Kubernetes, not in the Python server, so requests run one by one."""

from __future__ import annotations

import uuid

from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer

from common import arguments, classify, session

args = arguments()


class Digits(Model):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.model = session(path)
        self.ready = True

    async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        probabilities = classify(self.model, payload.inputs[0].as_numpy())
        output = InferOutput(name="probabilities", shape=list(probabilities.shape), datatype="FP32")
        output.set_data_from_numpy(probabilities, binary_data=False)
        return InferResponse(response_id=payload.id or str(uuid.uuid4()), model_name=self.name, infer_outputs=[output])


ModelServer(http_port=args.port, enable_grpc=False, workers=1).start([Digits(args.name, args.model)])
