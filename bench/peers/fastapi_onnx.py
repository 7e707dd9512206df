"""FastAPI + onnxruntime, the usual hand-written Python server: uvicorn, one process, and the
micro-batcher such servers add by hand (FastAPI has none): requests queue for up to 2 ms or 64
images, one session.run per batch in a worker thread."""

from __future__ import annotations

import asyncio

import numpy as np
import uvicorn
from fastapi import FastAPI, Request

from common import MAX_BATCH, MAX_DELAY_S, arguments, classify, session, split, v2_input, v2_output

args = arguments()
model = session(args.model)
app = FastAPI()
queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future]] = asyncio.Queue()


async def batcher() -> None:
    loop = asyncio.get_running_loop()
    while True:
        batch = [await queue.get()]
        images = len(batch[0][0])
        deadline = loop.time() + MAX_DELAY_S
        while images < MAX_BATCH:
            try:
                item = await asyncio.wait_for(queue.get(), deadline - loop.time())
            except TimeoutError:
                break
            batch.append(item)
            images += len(item[0])
        sizes = [len(x) for x, _ in batch]
        probabilities = await loop.run_in_executor(None, classify, model, np.concatenate([x for x, _ in batch]))
        for (_, future), part in zip(batch, split(probabilities, sizes)):
            future.set_result(part)


@app.on_event("startup")
async def start_batcher() -> None:
    asyncio.get_running_loop().create_task(batcher())


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request) -> dict:
    future = asyncio.get_running_loop().create_future()
    await queue.put((v2_input(await request.json()), future))
    return v2_output(name, await future)


uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
