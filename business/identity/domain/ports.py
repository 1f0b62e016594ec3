"""What the identity domain needs from the outside world, declared here and implemented elsewhere:

- `Transactions` and the repositories of an `IdentityUnitOfWork`: identity/data, over the one
  business store (business/shared/database.py);
- `Mailer`, `SmsSender`, `AttemptCounters`: identity/adapters (SMTP, Twilio, Redis, in-process);
- `TokenSigner`: the platform's signing keys (service_runtime.signing_keys);
- `Revocations`: service_runtime.revocations.

Repositories work inside the unit of work's transaction and never commit on their own; what they
write is written at once (so a failure aborts the whole unit, its audit entry included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from business.audit.domain import AuditLog
from business.identity.domain.emails import OutgoingEmail
from business.identity.domain.entities import OAuthIdentity, OneTimeCode, RefreshToken, SignInSession, User

T = TypeVar("T")


class UniqueConflict(Exception):
    """The store refused a second row with a unique value (an email, a phone number): another
    transaction got there first."""


class Users(Protocol):
    def get(self, user_id: str, *, for_update: bool = False) -> User | None:
        """`for_update`: the row stays locked until the unit of work ends (PostgreSQL)."""
        ...

    def by_email(self, email: str) -> User | None: ...

    def by_phone(self, phone_number: str) -> User | None: ...

    def add(self, user: User) -> None:
        """Raises UniqueConflict when the email or the phone number is taken."""
        ...

    def save(self, user: User) -> None:
        """Writes what changed of a user read or added in this unit of work (UniqueConflict)."""
        ...

    def claim_totp_step(self, user_id: str, step: int) -> bool:
        """Records `step` as the last used TOTP step unless that step (or a later one) was used:
        a conditional write, so one code cannot pass twice even in concurrent requests."""
        ...

    def lock_active_admins(self) -> list[str]:
        """Ids of the active admins, row-locked so two concurrent demotions cannot both see
        another admin left."""
        ...

    def newest_first(
        self, *, text: str, role: str, status: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[User]:
        """Users whose email or name contains `text` (any case), of a role and a status when given;
        keyset paging on (created_at, id), after the given key."""
        ...


class SignInSessions(Protocol):
    def get(self, session_id: str) -> SignInSession | None: ...

    def add(self, session: SignInSession) -> None: ...

    def save(self, session: SignInSession) -> None:
        """Writes what changed of a session read or added in this unit of work."""
        ...

    def active_of(self, user_id: str, now: datetime) -> list[SignInSession]:
        """Open, unexpired sessions of the user, newest first."""
        ...

    def revoke(self, session_id: str, now: datetime, reason: str) -> bool:
        """True when this call ended the session (it was not revoked already)."""
        ...

    def revoke_all_of(self, user_id: str, now: datetime, reason: str, *, keep: str = "") -> list[str]:
        """Ends every open session of the user but `keep`; returns the ids ended."""
        ...


class RefreshTokens(Protocol):
    def get(self, digest: str) -> RefreshToken | None: ...

    def add(self, token: RefreshToken) -> None: ...

    def spend(self, digest: str, now: datetime, successor_digest: str, successor_sealed: str) -> bool:
        """The conditional write that makes rotation safe: of two concurrent spends of the same
        token exactly one returns True. The spent token records its successor (digest and
        sealed copy); the token it had itself replaced loses its sealed copy."""
        ...


class BackupCodes(Protocol):
    def replace(self, user_id: str, digests: Sequence[str]) -> None: ...

    def use(self, user_id: str, digest: str, now: datetime) -> bool:
        """True for the one call that used this unused code."""
        ...

    def delete_all(self, user_id: str) -> None: ...

    def remaining(self, user_id: str) -> int:
        """The user's unused backup codes."""
        ...


class OneTimeCodes(Protocol):
    def add(self, code: OneTimeCode) -> None: ...

    def by_digest(self, purpose: str, digest: str) -> OneTimeCode | None: ...

    def latest_open(self, purpose: str, target: str, now: datetime) -> OneTimeCode | None:
        """The newest unconsumed, unexpired code of a purpose sent to `target`."""
        ...

    def consume(self, code_id: str, now: datetime) -> bool:
        """Single use: true only for the call that consumed an unexpired, unconsumed code."""
        ...

    def count_attempt(self, code_id: str, max_attempts: int, now: datetime) -> bool:
        """Counts one try at an open code, before the answer is checked: a conditional write, so
        of concurrent tries at most `max_attempts` in all are counted. False when the code is
        used up (its attempts spent), consumed or expired: the try must be refused."""
        ...

    def retire(self, purpose: str, now: datetime, *, user_id: str = "", target: str = "") -> None:
        """Consumes the open codes of a purpose for a user or a target (a new one replaces them)."""
        ...


class OAuthIdentities(Protocol):
    def get(self, provider: str, subject: str) -> OAuthIdentity | None: ...

    def add(self, identity: OAuthIdentity) -> None: ...

    def providers_of(self, user_id: str) -> list[str]:
        """The providers linked to the user, by name."""
        ...

    def providers_of_each(self, user_ids: Sequence[str]) -> dict[str, list[str]]:
        """`providers_of` for several users at once (every id is a key)."""
        ...

    def remove(self, user_id: str, provider: str) -> int:
        """Unlinks the user's identities at `provider`; returns how many were removed."""
        ...


class IdentityUnitOfWork(Protocol):
    """The repositories identity's use cases use, over ONE transaction."""

    @property
    def users(self) -> Users: ...

    @property
    def sign_in_sessions(self) -> SignInSessions: ...

    @property
    def refresh_tokens(self) -> RefreshTokens: ...

    @property
    def backup_codes(self) -> BackupCodes: ...

    @property
    def one_time_codes(self) -> OneTimeCodes: ...

    @property
    def oauth_identities(self) -> OAuthIdentities: ...

    @property
    def audit(self) -> AuditLog: ...


class Transactions(Protocol):
    """Runs a piece of work in one transaction: committed when it returns, rolled back when it
    raises. The work is synchronous (it runs in a worker thread); `run` awaits it."""

    def run_sync(self, work: Callable[[IdentityUnitOfWork], T]) -> T: ...

    async def run(self, work: Callable[[IdentityUnitOfWork], T]) -> T: ...


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> None: ...


class SmsSender(Protocol):
    async def send(self, to: str, body: str) -> None: ...


class TokenSigner(Protocol):
    """Signs a JWT's claims with the platform's current key (its `kid` in the header)."""

    def __call__(self, claims: dict[str, Any], /) -> str: ...


class Revocations(Protocol):
    """Access tokens that must stop working before they expire."""

    async def revoke_subject(self, subject: str) -> None:
        """Every access token of the subject issued until now stops working."""
        ...

    async def revoke_session(self, session_id: str) -> None:
        """Every access token carrying this `sid` stops working."""
        ...


class AttemptCounters(Protocol):
    """Storage for failure counts (sliding window) and locks (until a time)."""

    async def add_failure(self, key: str, window_s: float) -> tuple[int, str]:
        """Record one failure now; return the failures within the last `window_s` (this one
        included: of concurrent calls, each gets its own count) and the entry added, for `forget`."""
        ...

    async def forget(self, key: str, entry: str) -> None:
        """Removes one failure `add_failure` recorded (a try counted in advance that succeeded)."""
        ...

    async def lock(self, key: str, seconds: float) -> None: ...

    async def lock_if_free(self, key: str, seconds: float) -> bool:
        """Locks `key` for `seconds` unless a lock on it is still running; True when this call
        locked it (of concurrent calls, one)."""
        ...

    async def lock_remaining(self, keys: Sequence[str]) -> float:
        """Seconds until the longest of the locks on `keys` ends; 0 when none is locked."""
        ...

    async def clear(self, keys: Sequence[str]) -> None: ...

    async def close(self) -> None: ...
