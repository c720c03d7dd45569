"""Runtimes for converted models (ONNX Runtime, LiteRT, TensorFlow Lite Micro), each registered with
:mod:`drsn_edge.registry` when imported."""
