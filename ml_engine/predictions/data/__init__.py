"""Recorded predictions: the ml_predictions table and its repository (SQLAlchemy Core)."""
