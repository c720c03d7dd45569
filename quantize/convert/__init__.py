"""Checkpoint -> ONNX -> TFLite float32 / int8: export, onnx2tf, calibration, activation ranges, fake-quant mirror, fine-tuning, and the ``convert`` pipeline."""
