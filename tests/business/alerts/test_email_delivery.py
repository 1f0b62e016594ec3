"""An alert's email through the real SMTP path: the shared SmtpMailer talking to a real SMTP
server (aiosmtpd), to the owner's confirmed address only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from business.alerts.domain import alert_rules, evaluation
from business.alerts.domain.alert_rules import RuleRequest
from business.alerts.domain.entities import AlertKind, SignalSide
from business.alerts.wiring import AlertsFeature, assemble
from business.audit.domain import Client
from business.identity.data.tables import UserRow
from business.shared.database import BusinessStore
from business.shared.mail import SmtpMailer
from service_runtime.caller import Caller
from tests.business.alerts.conftest import ScriptedFeed, StaticCatalogue, feed_bar
from tests.support.smtp_sink import SmtpSink


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
async def mailing(
    store: BusinessStore, users: tuple[str, ...], sink: SmtpSink
) -> AsyncIterator[AlertsFeature]:
    env = sink.env()
    mailer = SmtpMailer(env["SMTP_HOST"], int(env["SMTP_PORT"]), env["SMTP_FROM"], timeout_s=5)
    made = assemble(store, StaticCatalogue(), ScriptedFeed(), mailer, "http://web.test")
    yield made
    await made.close()


async def test_a_signal_alert_is_mailed_to_its_owner_through_smtp(
    mailing: AlertsFeature, sink: SmtpSink, store: BusinessStore
) -> None:
    sink.clear()
    with store.transaction() as session:
        unconfirmed = session.get(UserRow, "bob")
        assert unconfirmed is not None
        unconfirmed.email_verified = False
    rule = RuleRequest("EURUSD", "1h", AlertKind.SIGNAL, SignalSide.SELL, 0.6, 0.0, None, True)
    for user in ("alice", "bob"):
        await alert_rules.create(mailing.ctx, Caller(user, frozenset({"user"}), "free"), rule, Client())
    await evaluation.on_bar(mailing.ctx, feed_bar(0, 1.2, action="hold"))
    fired = await evaluation.on_bar(mailing.ctx, feed_bar(1, 1.1, action="sell", confidence=0.8))
    assert {a.user_id for a in fired} == {"alice", "bob"}

    message = sink.wait_for("alice@example.com", subject_contains="signal turned SELL")
    assert "confidence 80%" in message["Subject"]
    assert "http://web.test/alerts" in SmtpSink.body(message)
    # Bob's address is not confirmed: his alert is in his history and stream, not in a mailbox.
    assert sink.sent_to("bob@example.com") == []
