"""Predictions: the application layer of Predict, GetSignals, StreamPredictions and scoring.

forecaster.py reads bars, computes features (only through `compute_features`), runs each ensemble
member through the model registry and combines them; signals.py (domain) decides; recording.py and
scoring.py keep served predictions and their outcomes; streams.py fans one computation per bar out
to every subscriber; handlers.py translates to and from the protos.
"""
