"""Reproducible training and ONNX export of the kinfer digit model (see training/README.md)."""
