"""Plan limits on request values (service_runtime/plans.py), as Predict's access rule declares them:
the refusal names the field and the value, and says so when the value was left empty (its default,
every horizon), where it used to print `horizon ""`."""

from __future__ import annotations

import pytest

from service_runtime.caller import Caller
from service_runtime.errors import PlanRequired
from service_runtime.plans import check_request
from trading.common.v1 import access_pb2
from trading.ml.v1 import prediction_service_pb2 as pb

PREDICT = pb.DESCRIPTOR.services_by_name["PredictionService"].methods_by_name["Predict"]
RULE = PREDICT.GetOptions().Extensions[access_pb2.access]
FREE = Caller("user-1", frozenset({"user"}), "free")


@pytest.mark.parametrize(
    ("horizon", "said"),
    [("position", 'for horizon "position"'), ("", "for horizon left empty (its default)")],
)
def test_a_reserved_value_is_refused_naming_it(horizon: str, said: str) -> None:
    with pytest.raises(PlanRequired) as refused:
        check_request(FREE, RULE, pb.PredictRequest(symbol="EURUSD", horizon=horizon))
    assert refused.value.message == f"requires plan pro {said} (this token's plan: free)"
    assert refused.value.metadata["field"] == "horizon"


def test_an_open_value_passes() -> None:
    check_request(FREE, RULE, pb.PredictRequest(symbol="EURUSD", horizon="intraday"))
