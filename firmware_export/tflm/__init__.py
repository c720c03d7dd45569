"""The TensorFlow Lite Micro route: the int8 model as C arrays, a resolver with exactly its ops, inference source."""
