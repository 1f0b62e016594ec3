"""One new bar of the market feed: fill the symbol's live orders, mark its holders, move the cursor.

Restart safety: the instrument row is the cursor (last bar processed per symbol). It is locked,
checked and moved in the same transaction as the bar's fills, ledger entries and order changes, so
after a restart a bar already processed is skipped and a bar not processed is processed once.
The cursors also give the stream's resume points (resume_points), so the feed need not resend them.
"""

from __future__ import annotations

from dataclasses import replace

from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import Bar
from business.paper_trading.domain.matching import BarOutcome, process_bar
from business.paper_trading.domain.ports import PaperRepository


def apply_bar(paper: PaperTrading, bar: Bar) -> BarOutcome | None:
    """Processes `bar` once (None: it or a later bar was processed already). Blocking: run it in a thread."""

    def work(repo: PaperRepository) -> BarOutcome | None:
        instrument = repo.instrument_to_move(bar.symbol)
        if instrument.last_bar_time is not None and bar.time <= instrument.last_bar_time:
            return None
        orders = repo.live_orders(bar.symbol)
        portfolio_ids = sorted({o.portfolio_id for o in orders} | set(repo.holders_of(bar.symbol)))
        books = repo.books(portfolio_ids, bar.symbol)
        outcome = process_bar(bar, orders, books, paper.costs, paper.new_id)
        repo.save_bar(bar, outcome, books)
        repo.save_instrument(replace(instrument, last_bar_time=bar.time, last_close=bar.close))
        return outcome

    return paper.transactions.run_sync(work)


def resume_points(paper: PaperTrading, symbols: tuple[str, ...]) -> dict[str, int]:
    """Where to resume the bar stream, per symbol: the cursor of each symbol followed (every
    instrument when `symbols` is empty) that has one. Each symbol resumes after its own cursor, so
    one standing far behind (or one never fed) does not hold back the others. Blocking: run it in
    a thread."""
    cursors = paper.transactions.run_sync(lambda repo: repo.bar_cursors())
    followed = {s.upper() for s in symbols} if symbols else set(cursors)
    return {symbol: last for symbol, last in cursors.items() if symbol in followed and last is not None}
