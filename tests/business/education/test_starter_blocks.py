"""The starter catalogue's live blocks refer to what `make run` serves: the bundled EURUSD and GOOG
samples, the indicator catalogue and the strategy registry; every forecast window ends on a
sample bar with its horizon's bars after it; and each course has modules, live blocks and a quiz."""

from __future__ import annotations

import pandas as pd

from business.education.domain.entities import CHART, FORECAST, TRY_IT
from business.education.domain.live_blocks import indicator_name, placed_blocks
from business.education.domain.validation import checked_content
from business.education.wiring import starter_courses
from ml_engine.backtests.domain.strategies.registry import list_strategies
from ml_engine.indicators.domain.catalogue import supported_names
from ml_engine.market_data.importing.samples import SAMPLES


def _bars(symbol: str) -> pd.DatetimeIndex:
    frame = pd.read_csv(SAMPLES[symbol].path, index_col=0, parse_dates=True)
    return pd.DatetimeIndex(frame.index).tz_localize("UTC")


def test_every_starter_block_refers_to_served_data() -> None:
    strategies = {s.name: {p.name for p in s.params} for s in list_strategies()}
    indicators = set(supported_names())
    kinds = set()
    for content in starter_courses():
        content = checked_content(content)
        for field, block in placed_blocks(content):
            kinds.add(block.kind)
            assert block.symbol in SAMPLES, field
            assert block.timeframe == SAMPLES[block.symbol].timeframe or block.kind == CHART, field
            if block.kind == CHART:
                assert {indicator_name(x) for x in block.indicators} <= indicators, field
            if block.kind == TRY_IT:
                assert set(block.params) | set(block.editable_params) <= strategies[block.strategy], field
            if block.kind == FORECAST:
                assert block.window_end is not None
                times = _bars(block.symbol)
                at = times.get_loc(pd.Timestamp(block.window_end))
                assert len(times) - at > block.horizon_bars, field
    assert kinds == {"chart", "signal", "try_it", "forecast"}


def test_each_starter_course_has_modules_live_blocks_and_a_quiz() -> None:
    courses = starter_courses()
    assert len(courses) >= 3
    for content in courses:
        lessons = [lesson for _, lesson in content.lessons()]
        assert len(content.modules) >= 1
        assert any(lesson.blocks for lesson in lessons), content.slug
        assert any(lesson.quiz for lesson in lessons), content.slug
