"""What every exported model carries about itself (ONNX `metadata_props`, key METADATA_KEY).

Training writes it, serving reads it back from the session (`get_modelmeta().custom_metadata_map`),
and the model card is rendered from it: one record, three readers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

METADATA_KEY = "trading.model"

# Model families and what they predict.
FAMILIES = ("xgboost", "gru", "transformer")
# Output columns, in this order when a model predicts several (the sequence models do).
# range_*_pct: future high / low over the lookahead relative to the as-of close, in percent.
# tp_long / tp_short: probability that the long (short) take-profit is hit before its stop-loss.
OUTPUT_COLUMNS = ("range_high_pct", "range_low_pct", "tp_long", "tp_short")
# The TP/SL classifier's columns (what signals and the ml_signals strategy read).
TP_COLUMNS = ("tp_long", "tp_short")


@dataclass(frozen=True)
class TrainingData:
    symbols: list[str]
    # ISO-8601 UTC open times of the first and last bar used to fit (validation included).
    start: str
    end: str
    rows: int
    # SHA-256 of the bars' bytes (times + OHLCV) the model was fit on.
    sha256: str
    synthetic: bool = False


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    version: str
    family: str
    horizon: str
    timeframe: str
    lookahead_bars: int
    # 1 for tabular models (input [N, F]); the window length for sequence models (input [N, W, F]).
    window_bars: int
    feature_names: list[str]
    feature_schema_hash: str
    # Applied by serving before inference: x = (features - mean) / std (identity for XGBoost).
    norm_mean: list[float]
    norm_std: list[float]
    input_name: str
    # The ONNX output to read and what each of its columns is (names from OUTPUT_COLUMNS).
    output_name: str
    output_columns: list[str]
    # Columns of that output to take; an XGBoost classifier's probabilities are [p0, p1] -> [1].
    output_indices: list[int]
    take_profit_atr: float
    stop_loss_atr: float
    training: TrainingData
    # Held-out walk-forward metrics of the model and of its naive baseline on the same folds.
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    beats_baseline: bool = False
    trained_at: str = ""
    # Parity on held-out rows: max |ONNX Runtime - framework|.
    parity_max_abs_diff: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelMetadata:
        raw: dict[str, Any] = json.loads(text)
        raw["training"] = TrainingData(**raw["training"])
        return cls(**raw)
