"""Billing's periodic sweep (business runs it every BILLING_SWEEP_INTERVAL_S): a past_due
subscription whose grace period is over loses pro at once (plan -> free, audited, the user's older
access tokens revoked), and failed webhook events whose next attempt is due are processed again
(backoff: Billing.next_attempt). An admin may retry one event now (retry_event)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from business.audit import domain as audit
from business.audit.domain import Client
from business.billing.domain.context import Billing
from business.billing.domain.entities import StoredEvent
from business.billing.domain.ports import BillingUnitOfWork
from business.billing.domain.webhooks import process_event, stored_event, sync_plan
from service_runtime.errors import DomainError, NotFound

log = logging.getLogger(__name__)
RETRY_BATCH = 100
# An event stored but never attempted this long ago was stranded (the process stopped in between).
STRANDED_AFTER = timedelta(minutes=5)
# How long a sweep holds the events it is retrying before another may take them.
CLAIM_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class SweepResult:
    downgraded: int  # users whose grace period ended
    retried: int  # events processed again
    still_failing: int


async def expire_grace(billing: Billing) -> int:
    """Every user still on pro whose subscription is past_due beyond the grace: free now."""
    transactions, _ = billing.stripe()
    cutoff = billing.now() - billing.past_due_grace
    users = await transactions.run(lambda uow: uow.subscriptions.past_due_pro_users(cutoff))
    downgraded = 0
    for user_id in users:

        def downgrade(uow: BillingUnitOfWork, user_id: str = user_id) -> bool:
            return sync_plan(billing, uow, user_id, {"reason": "past_due grace period over"})

        if await transactions.run(downgrade):
            downgraded += 1
            if billing.revocations is not None:
                await billing.revocations.revoke_subject(user_id)
    return downgraded


async def _process_stored(billing: Billing, event_id: str) -> bool:
    """Processes a stored event again; True when it went through."""
    transactions, _ = billing.stripe()
    payload = await transactions.run(lambda uow: uow.events.payload_of(event_id))
    if payload is None:
        raise NotFound(f"no Stripe event {event_id}")
    try:
        await process_event(billing, stored_event(payload))
    except (DomainError, OSError) as error:  # recorded on the event, with its next attempt
        log.warning("Stripe event failed again", extra={"event_id": event_id, "error": str(error)[:200]})
        return False
    except Exception:  # a bug or a payload we cannot read: recorded too; the batch goes on
        log.exception("Stripe event failed again, unexpectedly", extra={"event_id": event_id})
        return False
    return True


async def retry_due_events(billing: Billing) -> tuple[int, int]:
    """(processed, still failing) among the failed events whose next attempt is due."""
    transactions, _ = billing.stripe()
    now = billing.now()
    due = await transactions.run(
        lambda uow: uow.events.claim_due(now, RETRY_BATCH, now - STRANDED_AFTER, now + CLAIM_LEASE)
    )
    done = 0
    for event_id in due:
        done += await _process_stored(billing, event_id)
    return done, len(due) - done


async def retry_event(billing: Billing, event_id: str, actor_id: str, client: Client) -> StoredEvent:
    """An admin's retry: the event processed now (a processed one is left alone), audited with
    what it came to (the plan change it may make is audited on its own, as from Stripe)."""
    transactions, _ = billing.stripe()
    stored = await transactions.run(lambda uow: uow.events.get(event_id))
    if stored is None:
        raise NotFound(f"no Stripe event {event_id}")
    if stored.processed_at is None:
        await _process_stored(billing, event_id)
    return await transactions.run(lambda uow: _audited_retry(uow, billing, stored, actor_id, client))


def _audited_retry(
    uow: BillingUnitOfWork, billing: Billing, before: StoredEvent, actor_id: str, client: Client
) -> StoredEvent:
    after = uow.events.get(before.id)
    assert after is not None  # events are never deleted
    billing.record(
        uow,
        "billing.event_retried",
        client,
        outcome=audit.SUCCEEDED if after.processed_at is not None else audit.FAILED,
        actor_id=actor_id,
        before=_event_state(before),
        after=_event_state(after),
        detail={"event_id": after.id, "type": after.type},
    )
    return after


def _event_state(event: StoredEvent) -> dict[str, object]:
    return {
        "processed": event.processed_at is not None,
        "attempts": event.attempts,
        "error": event.last_error[:200],
    }


async def sweep(billing: Billing) -> SweepResult:
    downgraded = await expire_grace(billing)
    retried, failing = await retry_due_events(billing)
    return SweepResult(downgraded, retried, failing)


async def run_sweeps(billing: Billing, interval_s: float) -> None:
    """Sweeps every interval_s until cancelled; a failed sweep is logged and tried next time."""
    while True:
        try:
            await sweep(billing)
        except asyncio.CancelledError:
            raise
        except Exception:  # the loop must outlive a database outage
            log.exception("billing sweep failed")
        await asyncio.sleep(interval_s)
