"""Access rules for a service whose proto we do not own (KServe v2's inference service): every
method is given a rule or explicitly refused, and the interceptor enforces them."""

from __future__ import annotations

from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2  # noqa: F401  (registers grpc.health.v1.Health)

from ml_engine.models.kserve_handlers import INFERENCE_RULES, SERVICE_NAME
from service_runtime.access import (
    AccessInterceptor,
    ForeignRules,
    TokenVerifier,
    access_rules,
    keys_from_folder,
)
from service_runtime.errors import PermissionDenied, Unauthenticated
from service_runtime.signing_keys import SigningKeyStore
from tests.service_runtime.test_access import AUDIENCE, ISSUER, FakeContext, sign
from trading.common.v1 import access_pb2

HEALTH = "grpc.health.v1.Health"
OPEN = access_pb2.AccessRule(public=True)


def test_foreign_rules_must_cover_every_method() -> None:
    with pytest.raises(ValueError, match=r"Watch .*neither given a rule nor refused"):
        access_rules([HEALTH], foreign={HEALTH: ForeignRules(rules={"Check": OPEN})})
    rules = access_rules(
        [HEALTH], foreign={HEALTH: ForeignRules(rules={"Check": OPEN}, refused=frozenset({"Watch"}))}
    )
    assert rules == {f"/{HEALTH}/Check": OPEN}


def test_foreign_rules_are_checked_like_ours() -> None:
    contradictory = access_pb2.AccessRule(public=True, roles=["admin"])
    with pytest.raises(ValueError, match="public and also requires"):
        access_rules([HEALTH], foreign={HEALTH: ForeignRules(rules={"Check": contradictory, "Watch": OPEN})})
    with pytest.raises(ValueError, match="has no method Nope"):
        access_rules(
            [HEALTH], foreign={HEALTH: ForeignRules(rules={"Check": OPEN, "Watch": OPEN, "Nope": OPEN})}
        )


def test_the_inference_service_rules() -> None:
    rules = access_rules([SERVICE_NAME])  # declared by ml_engine.models.kserve_handlers
    for probe in ("ServerLive", "ServerReady", "ModelReady"):
        assert rules[f"/{SERVICE_NAME}/{probe}"].public
    for call in ("ServerMetadata", "ModelMetadata", "ModelInfer"):
        assert sorted(rules[f"/{SERVICE_NAME}/{call}"].roles) == ["admin", "service", "user"]
    assert f"/{SERVICE_NAME}/RepositoryModelLoad" not in rules
    assert "RepositoryModelLoad" in INFERENCE_RULES.refused and "ModelStreamInfer" in INFERENCE_RULES.refused


async def test_the_interceptor_enforces_foreign_rules(tmp_path: Path) -> None:
    keys = SigningKeyStore(tmp_path / "keys")
    keys.ensure()
    guard = AccessInterceptor(
        TokenVerifier(keys_from_folder(keys.folder), ISSUER, AUDIENCE), access_rules([SERVICE_NAME])
    )
    assert await guard.admit(f"/{SERVICE_NAME}/ServerLive", FakeContext()) is None
    with pytest.raises(Unauthenticated):
        await guard.admit(f"/{SERVICE_NAME}/ModelInfer", FakeContext())
    caller = await guard.admit(f"/{SERVICE_NAME}/ModelInfer", FakeContext(sign(keys, roles=["service"])))
    assert caller is not None and caller.roles == {"service"}
    with pytest.raises(PermissionDenied):
        await guard.admit(f"/{SERVICE_NAME}/ModelInfer", FakeContext(sign(keys, roles=["guest"])))
    # Refused methods stay closed even to an admin: deny by default.
    with pytest.raises(PermissionDenied):
        await guard.admit(f"/{SERVICE_NAME}/RepositoryModelLoad", FakeContext(sign(keys, roles=["admin"])))
    # Only gRPC health and reflection are infrastructure; any other non-platform path is refused.
    assert (
        await guard.admit("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", FakeContext())
        is None
    )
    with pytest.raises(PermissionDenied):
        await guard.admit("/other.Service/Method", FakeContext(sign(keys, roles=["admin"])))
