"""Train the digit CNN on MNIST with augmentation; record the run in MLflow (SQLite store).

    python -m training.train --model mnist-cnn --seed 0
    python -m training.train --model mnist-small --seed 0

Writes training/artifacts/<model>.pt and training/artifacts/<model>.run.json (read by
training.export), and records the run in the MLflow experiment named after the model.
The final-epoch weights are kept: the test set is only reported per epoch, never used to pick.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

# On a shared 2-core machine, spinning OpenMP threads make each optimizer step ~50x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import mlflow
import numpy as np
import torch
import torch.nn.functional as F

from training import data
from training.model import ARCHITECTURES

TRAINING_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = TRAINING_DIR / "artifacts"
MLRUNS_DIR = TRAINING_DIR / "mlruns"
# Per-model defaults that differ from the parser's (chosen before training, not tuned on the
# test set): the small network is cheaper per step, so it gets a few more epochs and a higher peak.
MODEL_DEFAULTS: dict[str, dict[str, object]] = {"mnist-small": {"epochs": 15, "max_lr": 5e-3}}


def tracking_uri() -> str:
    MLRUNS_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{MLRUNS_DIR / 'mlflow.db'}"


def use_experiment(name: str) -> None:
    """MLflow's experiment for one model: named like the model (models/<name>/)."""
    mlflow.set_tracking_uri(tracking_uri())
    if mlflow.get_experiment_by_name(name) is None:
        mlflow.create_experiment(name, artifact_location=(MLRUNS_DIR / "artifacts").as_uri())
    mlflow.set_experiment(name)


def artifact_paths(model: str) -> tuple[Path, Path]:
    """(weights, run summary) of the last training run of `model`."""
    return ARTIFACTS_DIR / f"{model}.pt", ARTIFACTS_DIR / f"{model}.run.json"


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


def augment(x: torch.Tensor, gen: torch.Generator, args: argparse.Namespace) -> torch.Tensor:
    """Random stroke thickness change, then a random affine (rotation, scale, shear, shift).

    Canvas digits differ from scans in position, slant, size and stroke width even after the
    runtime's MNIST-style centring, so the model sees those variations in training.
    """
    n = x.shape[0]
    u = lambda: torch.rand(n, generator=gen)  # noqa: E731

    # Thickness: 2x2 dilation or erosion on a fraction of the batch.
    pick = u()
    padded = F.pad(x, (0, 1, 0, 1))
    dilated = F.max_pool2d(padded, 2, stride=1)
    eroded = -F.max_pool2d(-padded, 2, stride=1)
    thick = (pick < args.p_thicken).view(n, 1, 1, 1)
    thin = ((pick >= args.p_thicken) & (pick < args.p_thicken + args.p_thin)).view(n, 1, 1, 1)
    x = torch.where(thick, dilated, torch.where(thin, eroded, x))

    angle = (u() * 2 - 1) * math.radians(args.rotate)
    scale = 1 + (u() * 2 - 1) * args.scale
    shear = (u() * 2 - 1) * args.shear
    tx = (u() * 2 - 1) * args.shift * 2 / 28  # pixels -> affine_grid's [-1, 1] coordinates
    ty = (u() * 2 - 1) * args.shift * 2 / 28
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output to input coordinates: the inverse of the visual transform.
    theta = torch.stack(
        [
            torch.stack([cos / scale, (-sin + shear) / scale, tx], dim=1),
            torch.stack([sin / scale, cos / scale, ty], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    model.eval()
    loss_sum, correct = 0.0, 0
    for start in range(0, images.shape[0], 1000):
        logits = model(images[start : start + 1000])
        target = labels[start : start + 1000]
        loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
        correct += (logits.argmax(1) == target).sum().item()
    return loss_sum / images.shape[0], correct / images.shape[0]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(ARCHITECTURES), default="mnist-cnn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--max-lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--rotate", type=float, default=12.0, help="max rotation, degrees")
    p.add_argument("--scale", type=float, default=0.12, help="max relative scale change")
    p.add_argument("--shear", type=float, default=0.15)
    p.add_argument("--shift", type=float, default=2.5, help="max shift, pixels")
    p.add_argument("--p-thicken", type=float, default=0.1)
    p.add_argument("--p-thin", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit-batches", type=int, default=0, help="smoke test: batches per epoch")
    model = p.parse_known_args()[0].model
    p.set_defaults(**MODEL_DEFAULTS.get(model, {}))
    return p.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)

    train_images, train_labels = data.load("train")
    test_images, test_labels = data.load("t10k")
    x_train, y_train = to_tensor(train_images), torch.from_numpy(train_labels.astype(np.int64))
    x_test, y_test = to_tensor(test_images), torch.from_numpy(test_labels.astype(np.int64))

    model = ARCHITECTURES[args.model]()
    steps_per_epoch = math.ceil(x_train.shape[0] / args.batch_size)
    if args.limit_batches:
        steps_per_epoch = min(steps_per_epoch, args.limit_batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.max_lr, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.max_lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch
    )

    use_experiment(args.model)
    started = time.perf_counter()
    with mlflow.start_run() as run:
        mlflow.log_params({**vars(args), "torch": torch.__version__, "data": data.PACKAGE,
                           "params": sum(p.numel() for p in model.parameters())})
        test_loss, test_acc = float("nan"), 0.0
        for epoch in range(1, args.epochs + 1):
            epoch_start = time.perf_counter()
            model.train()
            order = torch.randperm(x_train.shape[0], generator=gen)
            loss_sum, correct, seen = 0.0, 0, 0
            for step in range(steps_per_epoch):
                idx = order[step * args.batch_size : (step + 1) * args.batch_size]
                xb, yb = augment(x_train[idx], gen, args), y_train[idx]
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                loss_sum += loss.item() * yb.shape[0]
                correct += (logits.argmax(1) == yb).sum().item()
                seen += yb.shape[0]
            test_loss, test_acc = evaluate(model, x_test, y_test)
            metrics = {
                "train_loss": loss_sum / seen,
                "train_accuracy": correct / seen,
                "test_loss": test_loss,
                "test_accuracy": test_acc,
                "epoch_seconds": time.perf_counter() - epoch_start,
            }
            mlflow.log_metrics(metrics, step=epoch)
            print(json.dumps({"epoch": epoch, **{k: round(v, 5) for k, v in metrics.items()}}), flush=True)

        wall = time.perf_counter() - started
        mlflow.log_metric("training_seconds", wall)
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        weights_path, run_path = artifact_paths(args.model)
        torch.save(model.state_dict(), weights_path)
        summary = {
            "run_id": run.info.run_id,
            "model": args.model,
            "seed": args.seed,
            "epochs": args.epochs,
            "test_accuracy": test_acc,
            "test_loss": test_loss,
            "training_seconds": round(wall, 1),
            "torch": torch.__version__,
            "args": vars(args),
        }
        run_path.write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps({"done": True, **summary}), flush=True)


if __name__ == "__main__":
    main()
