"""POST /api/backtest through Envoy: the seed's body, results equal to backtesting.py, bad input."""

from __future__ import annotations

import warnings

import httpx
import pandas as pd
import pytest
import talib
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG

from tests.conftest import EDGE, bearer
from tools.supervisor import Stack


class SmaCross(Strategy):
    """backtesting.py's own README example."""

    n1 = 10
    n2 = 20

    def init(self) -> None:
        self.sma1 = self.I(talib.SMA, self.data.Close.astype(float), self.n1)
        self.sma2 = self.I(talib.SMA, self.data.Close.astype(float), self.n2)

    def next(self) -> None:
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


def test_seed_body_matches_backtesting_py(stack: Stack, token: str) -> None:
    body = {
        "strategy": "sma_cross",
        "symbol": "GOOG",
        "start_date": "2004-08-19",
        "end_date": "2013-03-02",
        "params": {"fast": 10, "slow": 20},
        "commission": 0.002,
    }
    reply = httpx.post(f"{EDGE}/api/backtest", json=body, headers=bearer(token), timeout=30)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = Backtest(GOOG, SmaCross, cash=10_000, commission=0.002, finalize_trades=True).run()
    trades = reference._trades
    assert result["metrics"]["trades"] == len(trades)
    ours = [
        (t["entryTime"][:10], t["size"], t["entryPrice"], t["exitTime"][:10], t["exitPrice"])
        for t in result["trades"]
    ]
    theirs = [
        (str(t.EntryTime)[:10], str(abs(int(t.Size))), t.EntryPrice, str(t.ExitTime)[:10], t.ExitPrice)
        for t in trades.itertuples()
    ]
    assert [o[:2] + o[3:4] for o in ours] == [t[:2] + t[3:4] for t in theirs]
    assert [o[2] for o in ours] == pytest.approx([t[2] for t in theirs], rel=1e-12)
    # The documented difference: a trade still open at the end closes at the last bar's close here,
    # at its open in backtesting.py (finalize_trades=True). Every other exit is the same fill.
    assert [o[4] for o in ours[:-1]] == pytest.approx([t[4] for t in theirs[:-1]], rel=1e-12)
    assert result["trades"][-1]["exitReason"] == "EXIT_REASON_END"
    assert ours[-1][4] == GOOG.Close.iloc[-1] and theirs[-1][4] == GOOG.Open.iloc[-1]
    last_pnl_gap = result["trades"][-1]["pnl"] - trades.PnL.iloc[-1]
    assert result["metrics"]["finalEquity"] == pytest.approx(
        reference["Equity Final [$]"] + last_pnl_gap, rel=1e-9
    )
    # Buy and hold from the first open to the last close (backtesting.py measures it differently).
    assert result["metrics"]["buyAndHoldReturn"] == pytest.approx(GOOG.Close.iloc[-1] / GOOG.Open.iloc[0] - 1)
    assert result["params"] == {"fast": 10, "slow": 20}
    assert len(result["equityCurve"]) <= 1000
    assert result["equityCurve"][-1]["equity"] == pytest.approx(result["metrics"]["finalEquity"])


def test_eurusd_backtest_with_costs_stops_and_folds(stack: Stack, token: str) -> None:
    body = {
        "strategy": "rsi_reversion",
        "symbol": "EURUSD",
        "start_date": "2017-06-01",
        "end_date": "2018-01-01",
        "commission": 0.0002,
        "slippage": 0.0001,
        "stop_loss": 0.01,
        "take_profit": 0.02,
        "position_size": 0.5,
        "max_equity_points": 50,
        "walk_forward_splits": 3,
        "timeframe": "4h",
    }
    reply = httpx.post(f"{EDGE}/api/backtest", json=body, headers=bearer(token), timeout=30)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["timeframe"] == "4h" and len(result["folds"]) == 3
    assert len(result["equityCurve"]) <= 50
    start = pd.Timestamp(result["metrics"]["start"])
    assert start >= pd.Timestamp("2017-06-01", tz="UTC") and pd.Timestamp(
        result["metrics"]["end"]
    ) < pd.Timestamp("2018-01-01", tz="UTC")
    assert sum(f["bars"] for f in result["folds"]) == result["metrics"]["bars"]
    reasons = {t["exitReason"] for t in result["trades"]}
    assert reasons <= {
        "EXIT_REASON_SIGNAL",
        "EXIT_REASON_STOP_LOSS",
        "EXIT_REASON_TAKE_PROFIT",
        "EXIT_REASON_END",
    }


def test_strategy_catalogue(stack: Stack, token: str) -> None:
    strategies = {
        s["name"]: s for s in httpx.get(f"{EDGE}/api/strategies", headers=bearer(token)).json()["strategies"]
    }
    assert {"sma_cross", "rsi_reversion", "bollinger_breakout"} <= set(strategies)
    assert {p["name"] for p in strategies["sma_cross"]["parameters"]} == {"fast", "slow"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"strategy": "sma_cross", "symbol": "GOOG", "start_date": "2010-01-01", "end_date": "2009-01-01"},
            "end_date",
        ),
        ({"strategy": "moon_phase", "symbol": "GOOG"}, "strategy"),
        ({"symbol": "GOOG"}, "strategy"),
        (
            {"strategy": "sma_cross", "symbol": "GOOG", "start_date": "2010-01-01", "end_date": "2010-01-20"},
            "start_date",
        ),  # too few bars for the slow average
        ({"strategy": "sma_cross", "symbol": "GOOG", "params": {"fast": 30, "slow": 10}}, "params.fast"),
        ({"strategy": "sma_cross", "symbol": "GOOG", "params": {"speed": 3}}, "params.speed"),
        ({"strategy": "sma_cross", "symbol": "GOOG", "commission": 0.5}, "commission"),
        ({"strategy": "sma_cross", "symbol": "GOOG", "position_size": 1.5}, "position_size"),
        ({"strategy": "sma_cross", "symbol": "GOOG", "start_date": "someday"}, "start_date"),
        ({"strategy": "sma_cross", "symbol": "GOOG", "timeframe": "1h"}, "timeframe"),
        # A map value that is not a number: the transcoder hands the service bytes it cannot parse.
        ({"strategy": "sma_cross", "symbol": "GOOG", "params": {"x": {}}}, "params.x"),
    ],
)
def test_bad_backtests_name_the_field(stack: Stack, token: str, body: dict[str, object], field: str) -> None:
    reply = httpx.post(f"{EDGE}/api/backtest", json=body, headers=bearer(token), timeout=30)
    assert reply.status_code == 400, reply.text
    fields = {v["field"] for d in reply.json()["details"] for v in d.get("fieldViolations", [])}
    assert field in fields, reply.json()


def test_a_body_the_service_cannot_parse_is_a_400_without_internal_names(stack: Stack, token: str) -> None:
    """The transcoder accepts `{}` as a map<string, double> value and sends bytes that do not parse."""
    body = {"strategy": "sma_cross", "symbol": "GOOG", "params": {"x": {}}}
    reply = httpx.post(f"{EDGE}/api/backtest", json=body, headers=bearer(token), timeout=30)
    assert reply.status_code == 400, reply.text
    envelope = reply.json()
    assert envelope["error"] == "invalid_argument"
    assert envelope["message"].startswith("params.x: ")
    for internal in ("DecodeError", "<class", "google.protobuf", "Traceback", "Unexpected"):
        assert internal not in reply.text


def test_a_sweep_over_rest_answers_ranked_sets(stack: Stack, token: str) -> None:
    body = {
        "backtest": {
            "strategy": "sma_cross",
            "symbol": "EURUSD",
            "start_date": "2017-06-01",
            "end_date": "2018-01-01",
        },
        "grid": [{"name": "fast", "values": [5, 10]}, {"name": "slow", "values": [20, 40]}],
        "rank_by": "SWEEP_RANK_SHARPE",
        "top": 3,
    }
    reply = httpx.post(f"{EDGE}/api/backtest/sweep", json=body, headers=bearer(token), timeout=30)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["evaluated"] == 4 and answer["bars"] > 3000
    assert [r["rank"] for r in answer["results"]] == [1, 2, 3]
    sharpes = [r["metrics"]["sharpe"] for r in answer["results"]]
    assert sharpes == sorted(sharpes, reverse=True)
    assert set(answer["results"][0]["params"]) == {"fast", "slow"}
    body["grid"] = [{"name": "fast", "values": [5]}, {"name": "speed", "values": [1]}]
    refused = httpx.post(f"{EDGE}/api/backtest/sweep", json=body, headers=bearer(token), timeout=30)
    assert refused.status_code == 400 and "grid" in refused.text
