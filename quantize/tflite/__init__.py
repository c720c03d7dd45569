"""The .tflite file itself: reading and editing the flatbuffer, and TFLite's integer arithmetic."""
