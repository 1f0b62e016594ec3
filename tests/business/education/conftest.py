"""Education on a real store (SQLite always, PostgreSQL when TEST_DATABASE_URL is set), its four
services on a real in-process server behind the production interceptors, and a few users."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from business.education.domain.context import Education
from business.education.handlers.authoring import AuthoringHandlers
from business.education.handlers.catalog import CatalogHandlers
from business.education.handlers.learning import CertificateHandlers, LearningHandlers
from business.education.wiring import build_education
from business.main import SERVICE_NAMES as BUSINESS_SERVICES
from business.shared.database import BusinessStore
from service_runtime.in_process import serve_in_process
from tests.business.people import add_users
from tests.support.in_process import Metadata, TestCallers
from trading.education.v1 import (
    authoring_service_pb2_grpc,
    catalog_service_pb2_grpc,
    certificate_service_pb2_grpc,
    learning_service_pb2_grpc,
)

SERVICE_NAMES = [name for name in BUSINESS_SERVICES if name.startswith("trading.education.")]
# Users of the tests: id -> (display name, role, status).
PEOPLE = {
    "teacher-1": ("Ada Teacher", "instructor", "active"),
    "teacher-2": ("Grace Teacher", "instructor", "active"),
    "admin-1": ("Alan Admin", "admin", "active"),
    "learner-1": ("Lin Learner", "user", "active"),
    "learner-2": ("Sam Learner", "user", "active"),
    "suspended-1": ("Sue Spended", "user", "suspended"),
}


def add_people(store: BusinessStore) -> None:
    add_users(store, PEOPLE)


@pytest.fixture
def education(store: BusinessStore) -> Education:
    add_people(store)
    return build_education(store)


@pytest.fixture
async def channel(education: Education, callers: TestCallers) -> AsyncIterator[grpc.aio.Channel]:
    catalog, authoring = CatalogHandlers(education), AuthoringHandlers(education)
    learning, certificates = LearningHandlers(education), CertificateHandlers(education)
    async with serve_in_process(
        service_names=SERVICE_NAMES,
        registrars=[
            lambda server: catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(catalog, server),
            lambda server: authoring_service_pb2_grpc.add_AuthoringServiceServicer_to_server(
                authoring, server
            ),
            lambda server: learning_service_pb2_grpc.add_LearningServiceServicer_to_server(learning, server),
            lambda server: certificate_service_pb2_grpc.add_CertificateServiceServicer_to_server(
                certificates, server
            ),
        ],
        verifier=callers.verifier(),
    ) as served:
        yield served.channel


class As:
    """Tokens of the test users, as the platform issues them (an instructor is also a user)."""

    def __init__(self, callers: TestCallers) -> None:
        self.callers = callers

    def __call__(self, user_id: str, plan: str = "free") -> Metadata:
        role = PEOPLE[user_id][1]
        roles = ("instructor", "user") if role == "instructor" else (role,)
        return self.callers.metadata(subject=user_id, roles=roles, plan=plan)


@pytest.fixture
def as_(callers: TestCallers) -> As:
    return As(callers)
