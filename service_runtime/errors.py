"""Domain errors, free of gRPC. The error interceptor turns them into gRPC statuses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every error the domain layer raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    """Bad input: names every offending field."""

    def __init__(self, *violations: FieldViolation) -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one field violation")
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations

    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        return cls(FieldViolation(field, description))


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


# google.rpc.ErrorInfo reason of a refusal for want of a plan (the web app offers an upgrade).
PLAN_REQUIRED_REASON = "PLAN_REQUIRED"


class PlanRequired(PermissionDenied):
    """The caller's plan does not open this call (or this value of one field of it). The caller
    gets google.rpc.ErrorInfo {reason: PLAN_REQUIRED, metadata: plan, plans, field, current_plan}."""

    def __init__(self, plans: Sequence[str], current: str, field: str = "", detail: str = "") -> None:
        needed = " or ".join(plans)
        what = f" for {field} {detail}".rstrip() if field else ""
        super().__init__(f"requires plan {needed}{what} (this token's plan: {current or 'none'})")
        self.reason = PLAN_REQUIRED_REASON
        self.metadata = {"plan": plans[0] if plans else "", "plans": ",".join(plans), "current_plan": current}
        if field:
            self.metadata["field"] = field


class Unauthenticated(DomainError):
    pass


class FailedPrecondition(DomainError):
    pass


class Aborted(DomainError):
    """A concurrent change won (optimistic concurrency): the caller should reload and retry.
    `metadata` (for example the current revision) goes to the caller as google.rpc.ErrorInfo."""

    def __init__(self, message: str, *, reason: str, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.metadata = metadata or {}


class TooManyAttempts(DomainError):
    """Too many failed attempts (or requests); the caller may try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DependencyUnavailable(DomainError):
    """A dependency (database, another service) cannot be reached; the caller may retry."""
