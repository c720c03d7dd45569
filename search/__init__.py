"""``drsn-edge search``: a device-aware model search on Optuna.

A consumer of the pipeline (it trains, converts and exports), so it lives beside ``quantize`` and
``firmware_export``; the core never imports it, and the command registers through the
``drsn_edge.commands`` entry point like every other stage's.
"""
