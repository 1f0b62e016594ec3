"""Forecasting domain: horizons, the one feature function, labels, baselines and model metadata.

Pure numpy/TA-Lib: no gRPC, no I/O, no torch. Training (ml_engine/training) and serving
(ml_engine/models/serving, ml_engine/predictions) both build their inputs with `compute_features`, so the
two cannot drift; a model's metadata carries the feature names and their hash, and serving refuses
a model whose schema hash differs from the code's.
"""
