"""The ML engine's audit trail: one entry on the `ml_engine.audit` log per admin action (and per
action the engine takes on its own, as an automatic promotion), refusals included."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from service_runtime.errors import DomainError

AUDIT_LOG = "ml_engine.audit"

audit = logging.getLogger(AUDIT_LOG)

AuditRecord = dict[str, object]


@contextmanager
def audited(record: AuditRecord) -> Iterator[AuditRecord]:
    """Audits the action `record` describes (its actor, the action, what it acts on) once the
    block ends: a DomainError raised in it as outcome "refused" with its reason, otherwise the
    record as the block left it (the block sets "outcome" and what the action came to). Other
    errors (a store that is down) are no decision and are not audited."""
    try:
        yield record
    except DomainError as error:
        audit.warning("audit", extra={**record, "outcome": "refused", "reason": error.message})
        raise
    audit.info("audit", extra=record)
