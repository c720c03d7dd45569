"""Is the int8 model still the float one? Per shrinkage unit, end to end, where TFLite Micro parts from LiteRT, and the limits every check row is judged by."""
