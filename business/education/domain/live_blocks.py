"""Live blocks checked against the ML engine when a course is saved: each block's symbol must be
stored, its timeframe readable, its indicators and strategy known, and a forecast's window must
end on a stored bar with enough bars after it. Every problem names the block's field
(`content.modules[0].lessons[1].blocks[2].symbol`); the ML engine unreachable is
DependencyUnavailable (UNAVAILABLE / 503) and nothing is saved."""

from __future__ import annotations

from dataclasses import dataclass, field

from business.education.domain.entities import CHART, FORECAST, TRY_IT, CourseContent, LessonBlock
from business.education.domain.ports import Bar, MarketData, UnknownTimeframe
from service_runtime.errors import DependencyUnavailable, FieldViolation, InvalidArgument


def placed_blocks(content: CourseContent) -> list[tuple[str, LessonBlock]]:
    """Every block of the course with the field path that names it, in reading order."""
    return [
        (f"content.modules[{i}].lessons[{j}].blocks[{k}]", block)
        for i, module in enumerate(content.modules)
        for j, lesson in enumerate(module.lessons)
        for k, block in enumerate(lesson.blocks)
    ]


def indicator_name(spec: str) -> str:
    """`rsi:14` -> `rsi` (the grammar of IndicatorService.GetIndicators)."""
    return spec.split(":", 1)[0].strip().lower()


@dataclass
class _Catalogue:
    """What the ML engine knows, read once per save and only when a block needs it."""

    market: MarketData
    _symbols: set[str] | None = None
    _indicators: set[str] | None = None
    _strategies: dict[str, set[str]] | None = None
    _readable: dict[tuple[str, str], str] = field(default_factory=dict)

    async def symbols(self) -> set[str]:
        if self._symbols is None:
            self._symbols = await self.market.symbols()
        return self._symbols

    async def indicators(self) -> set[str]:
        if self._indicators is None:
            self._indicators = await self.market.indicators()
        return self._indicators

    async def strategies(self) -> dict[str, set[str]]:
        if self._strategies is None:
            self._strategies = await self.market.strategies()
        return self._strategies

    async def timeframe_problem(self, symbol: str, timeframe: str) -> str:
        """Why `symbol` cannot be read at `timeframe` ("" when it can)."""
        key = (symbol, timeframe)
        if key not in self._readable:
            try:
                bars = await self.market.bars(symbol, timeframe, start=None, limit=1)
                self._readable[key] = "" if bars else f"{symbol} has no bars at timeframe {timeframe}"
            except UnknownTimeframe as refused:
                self._readable[key] = str(refused) or f"{timeframe} is not a timeframe {symbol} is read at"
        return self._readable[key]


async def _check(cat: _Catalogue, f: str, block: LessonBlock) -> list[FieldViolation]:
    symbols = await cat.symbols()
    if block.symbol not in symbols:
        known = ", ".join(sorted(symbols)) or "none yet"
        return [
            FieldViolation(f"{f}.symbol", f"{block.symbol} is not a symbol the platform stores ({known})")
        ]
    problem = await cat.timeframe_problem(block.symbol, block.timeframe)
    if problem:
        return [FieldViolation(f"{f}.timeframe", problem)]
    out = []
    if block.kind == CHART:
        known_indicators = await cat.indicators()
        for i, spec in enumerate(block.indicators):
            if indicator_name(spec) not in known_indicators:
                out.append(
                    FieldViolation(
                        f"{f}.indicators[{i}]", f"{spec} is not an indicator the platform computes"
                    )
                )
    if block.kind == TRY_IT:
        strategies = await cat.strategies()
        params = strategies.get(block.strategy)
        if params is None:
            known = ", ".join(sorted(strategies))
            return [FieldViolation(f"{f}.strategy", f"{block.strategy} is not a strategy ({known})")]
        for name in [*block.params, *block.editable_params]:
            if name not in params:
                out.append(FieldViolation(f"{f}.params[{name}]", f"is not a parameter of {block.strategy}"))
    if block.kind == FORECAST and block.window_end is not None:
        out += await _forecast_window(cat.market, f, block)
    return out


async def _forecast_window(market: MarketData, f: str, block: LessonBlock) -> list[FieldViolation]:
    assert block.window_end is not None
    bars = await outcome_bars(market, block)
    if not bars or bars[0].time != block.window_end:
        return [FieldViolation(f"{f}.window_end", "must be the open time of a stored bar of the symbol")]
    if len(bars) < block.horizon_bars + 1:
        return [
            FieldViolation(
                f"{f}.horizon_bars",
                f"only {len(bars) - 1} stored bars follow window_end; "
                f"the exercise needs {block.horizon_bars}",
            )
        ]
    return []


async def outcome_bars(market: MarketData, block: LessonBlock) -> list[Bar]:
    """The window's last bar and the horizon's bars after it."""
    return await market.bars(
        block.symbol, block.timeframe, start=block.window_end, limit=block.horizon_bars + 1
    )


async def check_live_blocks(market: MarketData | None, content: CourseContent) -> None:
    """InvalidArgument naming every block field the ML engine refutes; DependencyUnavailable when
    it cannot be asked."""
    placed = placed_blocks(content)
    if not placed:
        return
    if market is None:
        raise DependencyUnavailable(
            "the ML engine is not configured: lessons with live blocks cannot be checked"
        )
    cat = _Catalogue(market)
    violations: list[FieldViolation] = []
    for f, block in placed:
        violations += await _check(cat, f, block)
    if violations:
        raise InvalidArgument(*violations)
