"""TrainingService through Envoy: REST routes under /api/admin/training-runs for admins only, bad
input as a 400 naming the field, and the gRPC-Web progress stream's refusal of an unknown run.

No run here trains: the stack serves the committed model repository, which a test must not write
(the real runs are in tests/ml_engine/training_runs, on a repository of their own)."""

from __future__ import annotations

import httpx

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, bearer, claims
from tests.e2e import grpc_web
from tools.supervisor import Stack
from trading.ml.v1 import training_service_pb2 as pb

RUNS = f"{EDGE}/api/admin/training-runs"
REQUEST = {
    "family": "MODEL_FAMILY_XGBOOST",
    "horizon": "intraday",
    "symbols": ["NOPE"],
    "start": "2017-04-19T00:00:00Z",
    "end": "2017-06-08T00:00:00Z",
    "folds": 2,
}


def _violations(reply: httpx.Response) -> list[str]:
    return [v["field"] for d in reply.json().get("details", []) for v in d.get("fieldViolations", [])]


def test_training_runs_are_admin_only_and_name_the_bad_field(
    stack: Stack, token: str, keys: SigningKeyStore
) -> None:
    admin = bearer(keys.sign(claims(sub="admin-1", roles=["admin"])))
    assert httpx.post(RUNS, json=REQUEST, timeout=30).status_code == 401
    assert httpx.post(RUNS, json=REQUEST, headers=bearer(token), timeout=30).status_code == 403

    unknown = httpx.post(RUNS, json=REQUEST, headers=admin, timeout=30)
    assert unknown.status_code == 400 and _violations(unknown) == ["symbols"], unknown.text
    short = httpx.post(
        RUNS,
        json={**REQUEST, "symbols": ["EURUSD"], "end": "2017-04-26T00:00:00Z"},
        headers=admin,
        timeout=30,
    )
    assert short.status_code == 400 and _violations(short) == ["start"], short.text
    horizon = httpx.post(RUNS, json={**REQUEST, "horizon": "weekly"}, headers=admin, timeout=30)
    assert horizon.status_code == 400 and _violations(horizon) == ["horizon"]

    listed = httpx.get(RUNS, headers=admin, timeout=30)
    assert listed.status_code == 200 and listed.json().get("runs", []) == []
    missing = httpx.get(f"{RUNS}/nope", headers=admin, timeout=30)
    assert missing.status_code == 404
    cancel = httpx.post(f"{RUNS}/nope:cancel", json={}, headers=admin, timeout=30)
    assert cancel.status_code == 404

    streamed = grpc_web.call(
        f"{EDGE}/trading.ml.v1.TrainingService/StreamTrainingRun",
        pb.StreamTrainingRunRequest(run_id="nope"),
        headers={"authorization": admin["authorization"]},
    )
    assert streamed.grpc_status == 5, streamed.grpc_message  # NOT_FOUND
