"""Data sources (CWRU recordings, synthetic generator, .npz) and noise models."""
