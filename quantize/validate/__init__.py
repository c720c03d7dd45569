"""Is the int8 model still the float one? Per shrinkage unit, end to end, and where TFLite Micro parts from LiteRT."""
