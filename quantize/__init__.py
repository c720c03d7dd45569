"""Conversion and quantisation: PyTorch -> ONNX -> TFLite float/int8, calibration, validation, report.

Built on the checkpoint and :class:`drsn_edge.predictor.Predictor` interface of
``drsn_edge``; see the project issues for its roadmap.
"""
