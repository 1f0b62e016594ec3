"""The ensemble manifest (`<model repository>/ensembles.json`): which models serve each horizon.

Weights are chosen on validation folds only (never on test folds) by training. A member whose
held-out metrics do not beat the naive baseline gets weight 0 and is listed with why; when no
model beats it, the baseline itself serves (member "baseline_atr"), and serving says so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_FILE = "ensembles.json"
BASELINE_MEMBER = "baseline_atr"


@dataclass(frozen=True)
class Member:
    # A model folder name, or BASELINE_MEMBER.
    model: str
    # Which output column of that model: "range_high_pct", "range_low_pct", "tp_long" or "tp_short".
    column: str
    weight: float
    note: str = ""


@dataclass(frozen=True)
class HorizonEnsemble:
    horizon: str
    # One list per output column; weights of a list sum to 1.
    members: dict[str, list[Member]]
    # The ATR-scaled baseline: range_high_pct = high_coef * atr_pct * 100 (low_coef is negative),
    # coefficients fit on training rows; and the TP base rates (the classifiers' baseline).
    baseline_high_coef: float
    baseline_low_coef: float
    tp_long_base_rate: float
    tp_short_base_rate: float
    # Whether the TP/SL classifiers beat the base rate on held-out folds (AUC materially above
    # 0.5); when not, signals say HOLD and tell why.
    classifier_beats_baseline: bool = False
    # The ensemble's own held-out walk-forward figures, the card numbers live scores are compared
    # with: "coverage", "mae_pct", "tp_long_hit_rate", "tp_short_hit_rate", "auc_long", "auc_short".
    heldout_metrics: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Split-conformal quantiles by coverage ("0.8"; see domain/intervals.py): the served interval is
    # the median range widened by q x ATR% on each side. Fit on the last fold's validation rows.
    interval_quantiles: dict[str, float] = field(default_factory=dict)
    # The same for the ATR baseline's range (live scores compare widths at the same coverage).
    baseline_interval_quantiles: dict[str, float] = field(default_factory=dict)
    # Platt map (a, b) per TP column, fit on the last fold's validation rows (domain/calibration.py).
    tp_calibration: dict[str, list[float]] = field(default_factory=dict)
    # Held-out reliability-diagram bins of the calibrated probabilities, per TP column.
    reliability: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    # Held-out interval coverage and width per walk-forward fold.
    interval_folds: list[dict[str, float]] = field(default_factory=list)


def load_manifest(repository: Path) -> dict[str, HorizonEnsemble]:
    """Ensembles by horizon; an empty dict when the repository has no manifest."""
    path = repository / MANIFEST_FILE
    if not path.exists():
        return {}
    raw: dict[str, Any] = json.loads(path.read_text())
    result: dict[str, HorizonEnsemble] = {}
    for horizon, spec in raw.items():
        members = {col: [Member(**m) for m in ms] for col, ms in spec.pop("members").items()}
        result[horizon] = HorizonEnsemble(members=members, **spec)
    return result


def save_manifest(repository: Path, ensembles: dict[str, HorizonEnsemble]) -> None:
    data = {h: asdict(e) for h, e in sorted(ensembles.items())}
    (repository / MANIFEST_FILE).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
