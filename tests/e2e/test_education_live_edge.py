"""Education's live blocks through Envoy on the real stack: business checks a course's blocks
against the real ML engine over internal gRPC with its service token (every unknown symbol,
indicator or strategy is a 400 naming the block), a learner answers a starter course's
forecasting exercise and is scored against the stored EURUSD bars (a daily one without the pro
model's answer for a free learner), and admins read the course figures."""

from __future__ import annotations

import uuid
from typing import Any

from backtesting.test import EURUSD

from tests.e2e.accounts import ok, post, register_verified, tokens_of
from tests.e2e.test_education_edge import _admin, get
from tests.support.smtp_sink import SmtpSink
from tools.supervisor import Stack

WINDOW_END = "2017-11-14T12:00:00Z"
HORIZON = 8
BLOCKS = "content.modules[0].lessons[0].blocks"


def live_content(slug: str, *blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "Live blocks at the edge",
        "slug": slug,
        "level": "COURSE_LEVEL_BEGINNER",
        "tier": "COURSE_TIER_FREE",
        "modules": [
            {
                "id": "m1",
                "title": "Live",
                "lessons": [{"id": "l1", "title": "Charts", "estimatedMinutes": 3, "blocks": list(blocks)}],
            }
        ],
    }


CHART = {"id": "c", "chart": {"symbol": "EURUSD", "timeframe": "1h", "indicators": ["rsi:14", "atr"]}}
TRY_IT = {
    "id": "t",
    "tryIt": {"strategy": "sma_cross", "symbol": "EURUSD", "timeframe": "1h",
              "params": {"fast": 10, "slow": 30}, "editableParams": ["fast"]},
}  # fmt: skip
FORECAST = {
    "id": "f",
    "forecast": {"symbol": "EURUSD", "timeframe": "1h", "windowEnd": WINDOW_END, "horizonBars": HORIZON},
}


def _fields(reply: Any) -> list[str]:
    assert reply.status_code == 400, reply.text
    return [v["field"] for d in reply.json()["details"] for v in d.get("fieldViolations", [])]


def test_blocks_are_checked_against_the_real_ml_engine(stack: Stack) -> None:
    boss = _admin(stack)
    slug = f"live-{uuid.uuid4().hex[:8]}"
    saved = ok(post("/api/authoring/courses", {"content": live_content(slug, CHART, TRY_IT, FORECAST)}, boss))
    blocks = saved["course"]["content"]["modules"][0]["lessons"][0]["blocks"]
    assert [b["id"] for b in blocks] == ["c", "t", "f"] and blocks[2]["forecast"]["windowBars"] == 60

    unknown_symbol = {"id": "x", "chart": {"symbol": "NOSUCH", "timeframe": "1h"}}
    unknown_indicator = {
        "id": "y",
        "chart": {"symbol": "EURUSD", "timeframe": "1h", "indicators": ["zigzag"]},
    }
    unknown_strategy = {"id": "z", "tryIt": {"strategy": "martingale", "symbol": "GOOG", "timeframe": "1d"}}
    late = {"id": "w", "forecast": {**FORECAST["forecast"], "windowEnd": "2018-02-07T14:00:00Z"}}
    reply = post(
        "/api/authoring/courses",
        {
            "content": live_content(
                f"{slug}-bad", CHART, unknown_symbol, unknown_indicator, unknown_strategy, late
            )
        },
        boss,
    )
    assert _fields(reply) == [
        f"{BLOCKS}[1].symbol",
        f"{BLOCKS}[2].indicators[0]",
        f"{BLOCKS}[3].strategy",
        f"{BLOCKS}[4].horizon_bars",
    ]


def _expected_direction() -> tuple[str, float, float]:
    closes = EURUSD.loc["2017-11-14 12:00:00":]["Close"]
    first, after = float(closes.iloc[0]), float(closes.iloc[HORIZON])
    return ("FORECAST_DIRECTION_UP" if after > first else "FORECAST_DIRECTION_DOWN"), first, after


def test_a_learner_is_scored_on_a_starter_forecast_and_admins_see_the_figures(
    stack: Stack, smtp_sink: SmtpSink
) -> None:
    learner = tokens_of(register_verified(smtp_sink))["accessToken"]
    course = ok(get("/api/courses/reading-candles-and-indicators"))["course"]
    course_id = course["card"]["courseId"]
    ok(post(f"/api/learning/courses/{course_id}/enrollment", {}, learner))
    lesson = ok(get(f"/api/learning/courses/{course_id}/lessons/rsi", learner))["lesson"]
    forecast = next(b for b in lesson["blocks"] if "forecast" in b)
    assert forecast["forecast"]["windowEnd"] == WINDOW_END and forecast["forecast"]["horizonBars"] == HORIZON
    assert "actual" not in str(lesson) and "closeAfter" not in str(lesson)

    bad = post(f"/api/learning/courses/{course_id}/lessons/rsi/forecasts/{forecast['id']}", {}, learner)
    assert _fields(bad) == ["direction"]
    scored = ok(
        post(
            f"/api/learning/courses/{course_id}/lessons/rsi/forecasts/{forecast['id']}",
            {"direction": "FORECAST_DIRECTION_UP"},
            learner,
        )
    )
    result = scored["result"]
    actual, first, after = _expected_direction()
    assert result["actual"] == actual
    assert result["closeAtWindowEnd"] == first and result["closeAfter"] == after
    assert result.get("correct", False) == (actual == "FORECAST_DIRECTION_UP")
    # The model answered as of the same bar, or said why it could not.
    if result.get("modelPredicted", "FORECAST_DIRECTION_UNSPECIFIED") == "FORECAST_DIRECTION_UNSPECIFIED":
        assert result["modelNote"]
    else:
        assert result.get("modelCorrect", False) == (result["modelPredicted"] == actual)
    progress = ok(get(f"/api/learning/courses/{course_id}/progress", learner))["progress"]
    assert progress["forecastResults"] == [result]

    assert get("/api/admin/education/figures", learner).status_code == 403
    boss = _admin(stack)
    figures = ok(get("/api/admin/education/figures", boss, pageSize=100))["courses"]
    mine = next(f for f in figures if f["courseId"] == course_id)
    assert int(mine["enrollments"]) >= 1 and int(mine["forecastAnswers"]) >= 1


def test_a_free_learner_is_scored_on_a_daily_forecast_without_the_pro_models_answer(
    stack: Stack, smtp_sink: SmtpSink
) -> None:
    """Business asks Predict with its own token, which passes every plan check: the position model
    (EURUSD 1d bars), which Predict keeps for pro, answers a pro learner and is withheld from a free
    one, whose answer is scored all the same."""
    boss = _admin(stack)
    daily = {
        "id": "d",
        "forecast": {
            "symbol": "EURUSD",
            "timeframe": "1d",
            "windowEnd": "2017-11-14T00:00:00Z",
            "horizonBars": 3,
        },
    }
    slug = f"daily-{uuid.uuid4().hex[:8]}"
    course_id = ok(post("/api/authoring/courses", {"content": live_content(slug, daily)}, boss))["course"][
        "courseId"
    ]
    ok(post(f"/api/authoring/courses/{course_id}/publish", {"expectedRevision": 1}, boss))
    answer = f"/api/learning/courses/{course_id}/lessons/l1/forecasts/d"

    learner = tokens_of(register_verified(smtp_sink))["accessToken"]
    ok(post(f"/api/learning/courses/{course_id}/enrollment", {}, learner))
    withheld = ok(post(answer, {"direction": "FORECAST_DIRECTION_UP"}, learner))["result"]
    assert withheld["actual"] in ("FORECAST_DIRECTION_UP", "FORECAST_DIRECTION_DOWN")
    assert (
        withheld.get("modelPredicted", "FORECAST_DIRECTION_UNSPECIFIED") == "FORECAST_DIRECTION_UNSPECIFIED"
    )
    assert withheld["modelNote"] == "the position model's answer needs plan pro"

    ok(post(f"/api/learning/courses/{course_id}/enrollment", {}, boss))  # admins pass every plan check
    shown = ok(post(answer, {"direction": "FORECAST_DIRECTION_UP"}, boss))["result"]
    assert shown["actual"] == withheld["actual"]
    assert shown["modelPredicted"] in ("FORECAST_DIRECTION_UP", "FORECAST_DIRECTION_DOWN")
    assert shown["modelNote"].startswith("position: range")
