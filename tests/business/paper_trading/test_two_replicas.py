"""Two business replicas (k8s runs two) each follow the market feed: a bar of a symbol never seen is
processed once, by whichever takes it first, and the other skips it (the loser of the race on the
new instrument row used to fail and reconnect its stream)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import Bar
from business.paper_trading.domain.feed import apply_bar
from tests.business.paper_trading.conftest import HOUR, START


def test_a_new_symbols_first_bar_is_processed_once_by_two_replicas(paper: PaperTrading) -> None:
    for n, symbol in enumerate(("FIRSTSEEN", "SECONDSEEN")):
        bar = Bar(symbol, START + n * HOUR, 10.0, 10.5, 9.5, 10.2)
        with ThreadPoolExecutor(2) as pool:  # two transactions at once (PostgreSQL: truly)
            outcomes = [done.result() for done in [pool.submit(apply_bar, paper, bar) for _ in range(2)]]
        assert sum(outcome is not None for outcome in outcomes) == 1
        cursors = paper.transactions.run_sync(lambda repo: repo.bar_cursors())
        assert cursors[symbol] == bar.time
        later = Bar(symbol, bar.time + HOUR, 10.2, 10.4, 10.0, 10.1)
        assert apply_bar(paper, later) is not None  # the feed goes on from there
