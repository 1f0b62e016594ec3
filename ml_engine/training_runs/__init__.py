"""Retraining as an API (TrainingService): admin-started training runs in a separate worker process
with the training extra, one at a time per model family, persisted, streamed and cancellable. The
serving process never imports ml_engine.training: it starts `python -m ml_engine.training.worker`."""
