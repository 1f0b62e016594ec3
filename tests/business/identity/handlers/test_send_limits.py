"""Mail and SMS bombing: every path that sends a mail or a text is limited per recipient and per
client, through a real gRPC server, with mails counted on a real SMTP server (aiosmtpd) and texts
on the Twilio-speaking stand-in; the limits held in process memory (the embedded default) and in
a real Redis (REDIS_URL). A refusal is RESOURCE_EXHAUSTED with RetryInfo, and answers for an
unknown address exactly as for a known one."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from business.identity.adapters.sms import TwilioSmsSender
from business.identity.domain.context import Identity
from business.identity.domain.entities import User
from business.identity.domain.ports import AttemptCounters, IdentityUnitOfWork
from business.identity.domain.throttle import AttemptLimiter
from business.shared.mail import SmtpMailer
from tests.business.identity.conftest import PASSWORD, new_email
from tests.support.smtp_sink import SmtpSink
from tests.support.twilio_api import TwilioApi
from trading.identity.v1 import auth_service_pb2 as pb
from trading.identity.v1 import auth_service_pb2_grpc as pb_grpc
from trading.identity.v1 import user_service_pb2 as user_pb
from trading.identity.v1 import user_service_pb2_grpc as user_grpc

PER_RECIPIENT = 5
PER_CLIENT = 20
OK = "OK"


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioApi]:
    with TwilioApi() as running:
        yield running


@pytest.fixture
def wired(identity: Identity, counters: AttemptCounters, smtp_sink: SmtpSink, twilio: TwilioApi) -> Identity:
    """The test identity with the production limits' shape, real SMTP and the Twilio stand-in."""
    identity.sends = AttemptLimiter(
        counters, account_limit=PER_RECIPIENT, ip_limit=PER_CLIENT, window_s=3600, base_lock_s=60
    )
    mail = smtp_sink.env()
    identity.mailer = SmtpMailer(mail["SMTP_HOST"], int(mail["SMTP_PORT"]), mail["SMTP_FROM"], timeout_s=5)
    sms = twilio.env()
    identity.sms = TwilioSmsSender(
        sms["TWILIO_ACCOUNT_SID"],
        sms["TWILIO_AUTH_TOKEN"],
        sms["TWILIO_PHONE_NUMBER"],
        api_base_url=sms["TWILIO_API_BASE_URL"],
        timeout_s=5,
    )
    return identity


def _client(address: str) -> tuple[tuple[str, str]]:
    return (("x-forwarded-for", address),)


_CLIENTS = itertools.count(1)


def _new_client() -> tuple[tuple[str, str]]:
    """A client address of its own (the last X-Forwarded-For entry counts)."""
    n = next(_CLIENTS)
    return _client(f"198.51.100.9, 10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")


def _existing(identity: Identity, email: str, phone: str | None = None) -> None:
    """An account made straight in the store: its creation sent no mail and spent no budget."""
    now = datetime.now(UTC)
    user = User(
        id=str(uuid.uuid4()),
        email=email,
        password_hash=identity.hasher.hash(PASSWORD),
        phone_number=phone,
        created_at=now,
        updated_at=now,
    )
    identity.transactions.run_sync(lambda uow: uow.users.add(user))


def _prove_address(identity: Identity, email: str) -> None:
    """The address's mail was followed: a later registration of it is "someone tried", no link."""

    def work(uow: IdentityUnitOfWork) -> None:
        user = uow.users.by_email(email)
        assert user is not None
        user.email_verified = True
        uow.users.save(user)

    identity.transactions.run_sync(work)


def _retry_delay_s(error: grpc.aio.AioRpcError) -> float:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert isinstance(status, status_pb2.Status)
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToTimedelta().total_seconds()
    raise AssertionError(f"no RetryInfo in {status}")


async def _outcome(call: object) -> str:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
        assert "exists" not in error.details() and "registered" not in error.details()
        assert _retry_delay_s(error) > 0
        return error.code().name
    return OK


async def test_sixty_registrations_of_a_taken_address_send_five_mails_without_a_reset_link(
    channel: grpc.aio.Channel, wired: Identity, smtp_sink: SmtpSink
) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    email = new_email()
    await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD), metadata=_new_client())
    _prove_address(wired, email)
    outcomes = []
    for _ in range(60):
        request = pb.RegisterRequest(email=email, password=PASSWORD)
        # A new client each time: the address's own limit holds, whoever asks.
        outcomes.append(await _outcome(stub.Register(request, metadata=_new_client())))
    assert outcomes == [OK] * (PER_RECIPIENT - 1) + ["RESOURCE_EXHAUSTED"] * (61 - PER_RECIPIENT)
    mails = smtp_sink.sent_to(email)
    assert len(mails) == PER_RECIPIENT  # the verification mail and four "someone tried" mails
    for mail in mails[1:]:
        body = SmtpSink.body(mail)
        assert "token=" not in body and "reset-password" not in body
        assert "tried to create a new account" in body and "/forgot-password" in body


async def test_registration_answers_the_same_for_a_new_and_a_taken_address(
    channel: grpc.aio.Channel, wired: Identity, smtp_sink: SmtpSink
) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    taken, fresh = new_email(), new_email()
    _existing(wired, taken)
    answers = {}
    for email in (taken, fresh):
        seen = []
        for _ in range(PER_RECIPIENT + 3):
            request = pb.RegisterRequest(email=email, password=PASSWORD)
            seen.append(await _outcome(stub.Register(request, metadata=_new_client())))
        answers[email] = seen
    assert answers[taken] == answers[fresh] == [OK] * PER_RECIPIENT + ["RESOURCE_EXHAUSTED"] * 3
    assert len(smtp_sink.sent_to(taken)) == len(smtp_sink.sent_to(fresh)) == PER_RECIPIENT


async def test_forgot_password_is_limited_alike_for_known_and_unknown_addresses(
    channel: grpc.aio.Channel, wired: Identity, smtp_sink: SmtpSink
) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    known, unknown = new_email(), new_email()
    _existing(wired, known)
    answers = {}
    for email in (known, unknown):
        seen = []
        for _ in range(12):
            request = pb.ForgotPasswordRequest(email=email)
            seen.append(await _outcome(stub.ForgotPassword(request, metadata=_new_client())))
        answers[email] = seen
    await wired.drain()
    assert answers[known] == answers[unknown] == [OK] * PER_RECIPIENT + ["RESOURCE_EXHAUSTED"] * 7
    assert len(smtp_sink.sent_to(known)) == PER_RECIPIENT and smtp_sink.sent_to(unknown) == []


async def test_one_client_is_limited_across_addresses_and_paths(
    channel: grpc.aio.Channel, wired: Identity, smtp_sink: SmtpSink
) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    client = _client("192.0.2.44")
    seen = []
    for i in range(PER_CLIENT + 5):
        email = new_email()
        if i % 2:
            call = stub.ForgotPassword(pb.ForgotPasswordRequest(email=email), metadata=client)
        else:
            call = stub.Register(pb.RegisterRequest(email=email, password=PASSWORD), metadata=client)
        seen.append(await _outcome(call))
    assert seen == [OK] * PER_CLIENT + ["RESOURCE_EXHAUSTED"] * 5
    # Another client is not held back.
    other = pb.RegisterRequest(email=new_email(), password=PASSWORD)
    assert await _outcome(stub.Register(other, metadata=_client("192.0.2.45"))) == OK


async def test_resent_verification_mails_share_the_address_budget(
    channel: grpc.aio.Channel, wired: Identity, smtp_sink: SmtpSink
) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    email = new_email()
    await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD), metadata=_new_client())
    login = await stub.Login(pb.LoginRequest(email=email, password=PASSWORD))
    bearer = (("authorization", f"Bearer {login.tokens.access_token}"),)
    users = user_grpc.UserServiceStub(channel)
    seen = []
    for _ in range(8):
        request = user_pb.ResendEmailVerificationRequest()
        seen.append(await _outcome(users.ResendEmailVerification(request, metadata=bearer + _new_client())))
    # The registration's verification mail was the first of the address's five.
    assert seen == [OK] * (PER_RECIPIENT - 1) + ["RESOURCE_EXHAUSTED"] * (9 - PER_RECIPIENT)
    assert len(smtp_sink.sent_to(email)) == PER_RECIPIENT


async def test_sign_in_texts_are_limited_per_number_known_or_not(
    channel: grpc.aio.Channel, wired: Identity, twilio: TwilioApi
) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    known = f"+1415555{uuid.uuid4().int % 10_000:04d}"
    _existing(wired, new_email(), phone=known)
    unknown = f"+1646555{uuid.uuid4().int % 10_000:04d}"
    answers = {}
    for number in (known, unknown):
        seen = []
        for _ in range(10):
            request = pb.StartPhoneLoginRequest(phone_number=number)
            seen.append(await _outcome(stub.StartPhoneLogin(request, metadata=_new_client())))
        answers[number] = seen
    await wired.drain()
    assert answers[known] == answers[unknown] == [OK] * PER_RECIPIENT + ["RESOURCE_EXHAUSTED"] * 5
    assert len(twilio.sent_to(known)) == PER_RECIPIENT and twilio.sent_to(unknown) == []
