"""Per-request (or per-job) context that audit entries pick up without threading it through."""

from __future__ import annotations

import contextlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditContext:
    request_id: str = ""
    client_addr: str = ""
    actor: object | None = None  # default actor (a user, or a "system:…" string)


_EMPTY = AuditContext()
_current: ContextVar[AuditContext | None] = ContextVar("witness_audit_context", default=None)


def current() -> AuditContext:
    return _current.get() or _EMPTY


@contextlib.contextmanager
def bind(*, request_id: str | None = None, client_addr: str = "", actor: object | None = None):
    token = _current.set(
        AuditContext(request_id=request_id or uuid.uuid4().hex, client_addr=client_addr,
                     actor=actor)
    )
    try:
        yield current()
    finally:
        _current.reset(token)
