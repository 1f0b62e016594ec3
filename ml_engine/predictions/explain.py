"""Signal explanations: XGBoost `pred_contribs` of the horizon's TP classifier at the as-of bar.

Serving runs the ONNX export; the native booster (`<model>/<version>/xgb.json`, written beside it by
training) is loaded once per version only to split one prediction's margin into per-feature shares.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import xgboost

from ml_engine.predictions.domain.features import FEATURE_NAMES
from ml_engine.predictions.domain.signals import Contribution, top_contributions

log = logging.getLogger(__name__)


class XgbExplainer:
    def __init__(self, repository: Path) -> None:
        self.repository = repository
        self._boosters: dict[tuple[str, str], xgboost.Booster | None] = {}
        self._lock = threading.Lock()

    def booster(self, model: str, version: str) -> xgboost.Booster | None:
        key = (model, version)
        with self._lock:
            if key not in self._boosters:
                path = self.repository / model / version / "xgb.json"
                booster: xgboost.Booster | None = None
                if path.exists():
                    booster = xgboost.Booster()
                    booster.load_model(str(path))
                    booster.set_param({"nthread": 1})
                else:
                    log.warning("no native booster to explain %s version %s (%s)", model, version, path)
                self._boosters[key] = booster
            return self._boosters[key]

    def explain(
        self, model: str, version: str, features: tuple[float, ...], negate: bool
    ) -> tuple[Contribution, ...]:
        """Top contributions to `model`'s margin (log-odds); `negate` flips their sign (a short model
        explained so that positive still favours the long)."""
        booster = self.booster(model, version)
        if booster is None:
            return ()
        row = np.asarray([features], dtype=np.float32)
        with self._lock:  # a Booster's predict is not documented as thread-safe
            contribs = booster.predict(xgboost.DMatrix(row), pred_contribs=True)[0]
        # The last column is the bias (the margin with no feature known): not a feature's share.
        shares = [float(-c if negate else c) for c in contribs[: len(FEATURE_NAMES)]]
        return top_contributions(FEATURE_NAMES, [float(v) for v in features], shares)
