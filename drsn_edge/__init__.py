"""drsn-edge: noise-robust bearing fault diagnosis (DRSN) from training to microcontroller."""

__version__ = "0.1.0"
