"""The Pi runner's modules (numpy and a TFLite interpreter only, never drsn_edge), started by ../drsn_runner.py."""
