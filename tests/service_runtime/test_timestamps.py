"""A moment that may be missing leaves its message field unset; one that is there is kept exactly."""

from __future__ import annotations

from datetime import UTC, datetime

from service_runtime.timestamps import from_timestamp, to_optional_timestamp
from trading.billing.v1 import billing_admin_service_pb2 as admin_pb


def test_a_missing_moment_leaves_the_field_unset_and_a_present_one_is_set() -> None:
    processed = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
    message = admin_pb.StripeEvent(
        event_id="evt_1",
        processed_at=to_optional_timestamp(processed),
        next_attempt_at=to_optional_timestamp(None),
    )
    assert message.HasField("processed_at") and not message.HasField("next_attempt_at")
    assert from_timestamp(message.processed_at) == processed


def test_epoch_seconds_are_taken_like_datetimes() -> None:
    stamp = to_optional_timestamp(1_700_000_000)
    assert stamp is not None and (stamp.seconds, stamp.nanos) == (1_700_000_000, 0)
