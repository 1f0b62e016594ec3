"""Offline training (`make train`): data, labels, XGBoost / GRU / Transformer, walk-forward evaluation,
ONNX export into the Triton-layout model repository. Uses torch; serving never imports this package."""
