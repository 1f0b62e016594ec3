"""CatalogService through a real server, over the starter catalogue: full-text search ranked by
relevance (FTS5 on SQLite, PostgreSQL full-text search), filters, paging, bad input."""

from __future__ import annotations

import grpc
import pytest

from business.education.data.repositories import SqlEducationUnitOfWork
from business.education.domain import starter
from business.education.domain.context import Education, utcnow
from business.education.wiring import starter_courses
from business.shared.database import BusinessStore
from tests.support.in_process import violated_fields
from trading.education.v1 import catalog_service_pb2 as pb
from trading.education.v1 import catalog_service_pb2_grpc as pb_grpc
from trading.education.v1 import education_pb2 as edu

CANDLES = "reading-candles-and-indicators"
BACKTESTING = "backtesting-without-fooling-yourself"
RISK = "risk-take-profit-stop-loss-atr-sizing"


@pytest.fixture
def starter_loaded(education: Education, store: BusinessStore) -> list[str]:
    courses = starter_courses()
    first = store.units_of_work(SqlEducationUnitOfWork).run_sync(
        lambda uow: starter.load(uow, utcnow(), courses)
    )
    again = store.units_of_work(SqlEducationUnitOfWork).run_sync(
        lambda uow: starter.load(uow, utcnow(), courses)
    )
    assert again == []  # loading is idempotent
    return first


async def _slugs(stub: pb_grpc.CatalogServiceStub, **fields: object) -> list[str]:
    found = await stub.SearchCourses(pb.SearchCoursesRequest(**fields))  # type: ignore[arg-type]
    return [c.slug for c in found.courses]


async def test_search_ranks_the_best_match_first(
    channel: grpc.aio.Channel, starter_loaded: list[str]
) -> None:
    assert sorted(starter_loaded) == sorted([CANDLES, BACKTESTING, RISK])
    stub = pb_grpc.CatalogServiceStub(channel)
    assert (await _slugs(stub, query="walk-forward lookahead"))[0] == BACKTESTING
    assert (await _slugs(stub, query="candle"))[0] == CANDLES  # prefixes and stems match
    # ATR is in the title of the risk course and only in a lesson of the candles course.
    assert await _slugs(stub, query="ATR") == [RISK, CANDLES]
    assert (await _slugs(stub, query="position sizing"))[0] == RISK
    assert await _slugs(stub, query="nothing-like-this zzz") == []
    # Query syntax of either engine is plain words here.
    assert await _slugs(stub, query='"ATR" OR * -( :* & |') == [RISK, CANDLES]


async def test_filters_and_paging(channel: grpc.aio.Channel, starter_loaded: list[str]) -> None:
    stub = pb_grpc.CatalogServiceStub(channel)
    assert await _slugs(stub, tier=edu.COURSE_TIER_PRO) == [RISK]
    assert await _slugs(stub, level=edu.COURSE_LEVEL_BEGINNER) == [CANDLES]
    assert await _slugs(stub, tag="atr") == [RISK]
    assert await _slugs(stub, query="atr", tier=edu.COURSE_TIER_FREE) == [CANDLES]
    first = await stub.SearchCourses(pb.SearchCoursesRequest(page_size=2))
    second = await stub.SearchCourses(pb.SearchCoursesRequest(page_size=2, page_token=first.next_page_token))
    assert len(first.courses) == 2 and len(second.courses) == 1 and second.next_page_token == ""
    assert {c.slug for c in [*first.courses, *second.courses]} == {CANDLES, BACKTESTING, RISK}
    card = next(c for c in first.courses if c.slug in (CANDLES, BACKTESTING, RISK))
    assert card.lesson_count > 0 and card.estimated_minutes > 0
    outline = (await stub.GetCourse(pb.GetCourseRequest(course=RISK))).course
    assert outline.card.tier == edu.COURSE_TIER_PRO
    assert [x.has_quiz for m in outline.modules for x in m.lessons] == [False, False, True]


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"query": "x" * 201}, "query"),
        ({"tag": "Not A Tag"}, "tag"),
        ({"level": 42}, "level"),
        ({"tier": 42}, "tier"),
        ({"page_size": 51}, "page_size"),
        ({"page_token": "not-a-token"}, "page_token"),
    ],
)
async def test_bad_search_input_names_the_field(
    channel: grpc.aio.Channel, request_fields: dict[str, object], field: str
) -> None:
    stub = pb_grpc.CatalogServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SearchCourses(pb.SearchCoursesRequest(**request_fields))  # type: ignore[arg-type]
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == [field]
