"""The digit models: DigitCNN (mnist-cnn) and SmallCNN (mnist-small), by builtin model name."""

from __future__ import annotations

import torch
from torch import nn

# MNIST training-set pixel mean and standard deviation (pixels in 0..1); applied inside the model
# so the exported graph takes raw 0..1 pixels.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class DigitCNN(nn.Module):
    """[N,1,28,28] pixels in 0..1 (white on black) -> [N,10] logits."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=5, padding=2, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(32, 64, kernel_size=5, padding=2, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 7x7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.25),
            nn.Linear(64 * 7 * 7, 128, bias=False),
            nn.BatchNorm1d(128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.25),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - MNIST_MEAN) / MNIST_STD
        return self.classifier(self.features(x))


class SmallCNN(nn.Module):
    """[N,1,28,28] pixels in 0..1 (white on black) -> [N,10] logits, ~1/6 of DigitCNN's work.

    Three 3x3 convolutions (BatchNorm + ReLU each, max-pool 2x2 after each) and a small head on
    the 3x3 map that is left (576 -> 64 -> 10, ~37 k multiply-accumulates) instead of DigitCNN's
    3136 -> 128 dense layer. A first version pooled the 7x7 map globally (64 -> 10): 99.27% on the
    test set, short of the 99.5% this model is for; keeping where a stroke is, not only that it
    is there, is what the small head adds. No normalisation step: the BatchNorm after the first
    convolution rescales the raw 0..1 pixels (ONNX Runtime folds it into the convolution), so the
    exported graph has two nodes fewer.
    """

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), hidden: int = 64) -> None:
        super().__init__()
        c1, c2, c3 = widths

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]

        self.features = nn.Sequential(*block(1, c1), *block(c1, c2), *block(c2, c3))  # 28 -> 14 -> 7 -> 3
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c3 * 3 * 3, hidden),  # no BatchNorm here: ONNX Runtime cannot fold it into a Gemm
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class WithSoftmax(nn.Module):
    """What gets exported: probabilities instead of logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=1)


# Builtin model name (models/<name>/) -> its network; train.py and export.py take --model.
ARCHITECTURES: dict[str, type[nn.Module]] = {"mnist-cnn": DigitCNN, "mnist-small": SmallCNN}
