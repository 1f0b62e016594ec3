"""Builds education's use-case context from the business store, and loads the starter catalogue
(business/education/starter/*.json) into it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from business.education.data.repositories import SqlEducationUnitOfWork
from business.education.domain import starter
from business.education.domain.context import Education, utcnow
from business.education.domain.entities import CourseContent
from business.education.domain.ports import MarketData
from business.shared.database import BusinessStore
from service_runtime.plans import value_plans
from trading.ml.v1 import prediction_service_pb2

STARTER_DIR = Path(__file__).parent / "starter"
log = logging.getLogger("business.education")


def build_education(store: BusinessStore, market: MarketData | None = None) -> Education:
    """`market`: the ML engine (education/adapters/ml_engine.py) for live blocks; without it a
    course with live blocks cannot be saved and forecasts cannot be scored (UNAVAILABLE)."""
    return Education(
        transactions=store.units_of_work(SqlEducationUnitOfWork), market=market, horizon_plans=predict_plans
    )


# Predict's access rule: which plans open each horizon of the model answers forecasts are scored with.
PREDICT = prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"].methods_by_name["Predict"]


def predict_plans(horizon: str) -> tuple[str, ...]:
    """The plans Predict's plan limit on `horizon` reserves it for; () when every plan has it."""
    return value_plans(PREDICT, "horizon", [horizon]).get(horizon, ())


def starter_courses(folder: Path = STARTER_DIR) -> list[CourseContent]:
    """The starter courses, in file-name order."""
    return [CourseContent.from_json(json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))]


def load_starter_catalogue(database_url: str) -> list[str]:
    """Publishes the starter courses that are not in the store yet; returns their slugs."""
    courses = starter_courses()
    store = BusinessStore(database_url)
    try:
        added = store.units_of_work(SqlEducationUnitOfWork).run_sync(
            lambda uow: starter.load(uow, utcnow(), courses)
        )
    finally:
        store.close()
    if added:
        log.info("starter catalogue loaded: %s", ", ".join(added))
    return added
