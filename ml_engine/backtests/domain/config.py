"""How a backtest trades: cash, costs, sizing, stops, and what the result should contain."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from ml_engine.market_data.domain.timeframes import Timeframe
from service_runtime.errors import FieldViolation, InvalidArgument

# backtesting.py's `buy()` default size: "all of the available margin", just under 1 so that it is read
# as a fraction of equity rather than one unit.
FULL_EQUITY = 1 - sys.float_info.epsilon

MAX_COST_FRACTION = 0.1
MAX_EQUITY_POINTS = 100_000
MAX_WALK_FORWARD_SPLITS = 20
TRADING_DAYS_PER_YEAR = 252
SECONDS_PER_YEAR = 365 * 86400


@dataclass(frozen=True)
class BacktestConfig:
    """Checked on construction: a bad value raises InvalidArgument naming the API's field.

    - `commission`: fraction of traded value, charged at entry and again at exit.
    - `slippage`: fraction of the price added to a long entry and taken off a short entry (the
      fill moves against the trade); like backtesting.py's `spread`, exits are not adjusted.
    - `position_size`: fraction of equity committed per entry, in (0, 1]; 1 is backtesting.py's
      all-in default. Units are whole: int(equity * fraction // (price + slippage + commission)).
    - `stop_loss` / `take_profit`: distance from the entry fill price as a fraction, or None.
    - `max_equity_points`: the equity curve is downsampled to at most this many points.
    - `walk_forward_splits`: 0, or the number of consecutive folds to report metrics for.
    - `periods_per_year`: bars per year, to annualize volatility, Sharpe and Sortino
      (see `periods_per_year_for`).
    """

    initial_cash: float = 10_000.0
    commission: float = 0.0
    slippage: float = 0.0
    position_size: float = 1.0
    allow_short: bool = True
    stop_loss: float | None = None
    take_profit: float | None = None
    max_equity_points: int = 1000
    walk_forward_splits: int = 0
    periods_per_year: float = TRADING_DAYS_PER_YEAR

    def __post_init__(self) -> None:
        violations = config_violations(self)
        if violations:
            raise InvalidArgument(*violations)

    @property
    def order_size_fraction(self) -> float:
        """The size backtesting.py's buy()/sell() would get for `position_size`."""
        return FULL_EQUITY if self.position_size >= 1 else self.position_size


def periods_per_year_for(timeframe: Timeframe) -> float:
    """Bars per year for annualizing: 252 for daily bars (trading days, the equity convention),
    otherwise bars in a 365-day year (markets that trade around the clock, like crypto; for FX and
    stocks with closed hours this overstates the count, so annualized figures come out a little high).
    """
    if timeframe.seconds == 86400:
        return float(TRADING_DAYS_PER_YEAR)
    return SECONDS_PER_YEAR / timeframe.seconds


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def config_violations(config: BacktestConfig) -> list[FieldViolation]:
    checks: list[tuple[str, bool, str]] = [
        (
            "initial_cash",
            _is_number(config.initial_cash) and config.initial_cash > 0,
            "must be greater than 0",
        ),
        (
            "commission",
            _is_number(config.commission) and 0 <= config.commission < MAX_COST_FRACTION,
            f"must be a fraction in [0, {MAX_COST_FRACTION})",
        ),
        (
            "slippage",
            _is_number(config.slippage) and 0 <= config.slippage < MAX_COST_FRACTION,
            f"must be a fraction in [0, {MAX_COST_FRACTION})",
        ),
        (
            "position_size",
            _is_number(config.position_size) and 0 < config.position_size <= 1,
            "must be a fraction of equity in (0, 1]",
        ),
        ("allow_short", isinstance(config.allow_short, bool), "must be true or false"),
        (
            "stop_loss",
            config.stop_loss is None or (_is_number(config.stop_loss) and 0 < config.stop_loss < 1),
            "must be a fraction in (0, 1), or unset",
        ),
        (
            "take_profit",
            config.take_profit is None or (_is_number(config.take_profit) and 0 < config.take_profit < 1),
            "must be a fraction in (0, 1), or unset",
        ),
        (
            "max_equity_points",
            _is_int(config.max_equity_points) and 2 <= config.max_equity_points <= MAX_EQUITY_POINTS,
            f"must be an integer in [2, {MAX_EQUITY_POINTS}]",
        ),
        (
            "walk_forward_splits",
            _is_int(config.walk_forward_splits)
            and (
                config.walk_forward_splits == 0 or 2 <= config.walk_forward_splits <= MAX_WALK_FORWARD_SPLITS
            ),
            f"must be 0 (none) or an integer in [2, {MAX_WALK_FORWARD_SPLITS}]",
        ),
        (
            "periods_per_year",
            _is_number(config.periods_per_year) and config.periods_per_year > 0,
            "must be greater than 0",
        ),
    ]
    return [
        FieldViolation(name, f"{requirement}, got {getattr(config, name)!r}")
        for name, ok, requirement in checks
        if not ok
    ]
