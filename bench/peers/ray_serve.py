"""Ray Serve: one replica behind Serve's HTTP proxy, with @serve.batch (up to 64 requests, 2 ms).

No `from __future__ import annotations` here: Serve's ingress wraps the methods, and FastAPI then
cannot resolve string annotations (it took `request: Request` for a query parameter)."""

import time

import numpy as np
import ray
from fastapi import FastAPI, Request
from ray import serve

from common import MAX_BATCH, MAX_DELAY_S, arguments, classify, session, split, v2_input, v2_output

args = arguments()
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
serve.start(http_options={"host": "127.0.0.1", "port": args.port})
app = FastAPI()


@serve.deployment(num_replicas=1, max_ongoing_requests=256)
@serve.ingress(app)
class Digits:
    def __init__(self, path: str) -> None:
        self.model = session(path)

    @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=MAX_DELAY_S)
    async def classify(self, requests: list[np.ndarray]) -> list[np.ndarray]:
        return split(classify(self.model, np.concatenate(requests)), [len(x) for x in requests])

    @app.post("/v2/models/{name}/infer")
    async def infer(self, name: str, request: Request) -> dict:
        return v2_output(name, await self.classify(v2_input(await request.json())))


serve.run(Digits.bind(args.model), route_prefix="/")
while True:
    time.sleep(3600)
