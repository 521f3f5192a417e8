"""``append``: the one function every app calls to write an audit entry.

It writes **inside the caller's transaction**: the business change and its audit entry
commit together or not at all (GB/T 22239-2019 8.1.4.3; ING-4). Calling it outside
``transaction.atomic()`` is a programming error and raises.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, transaction
from django.utils import timezone

from witness.audit import context
from witness.audit.models import ActorType, AuditEntry, Outcome


class AuditOutsideTransaction(RuntimeError):
    pass


def _actor_fields(actor: Any) -> tuple[str, str, str]:
    if actor is None:
        return ActorType.SYSTEM, "", "system"
    if isinstance(actor, str):
        # "system:job-name" or a plain label for a system job
        return ActorType.SYSTEM, "", actor
    if getattr(actor, "is_anonymous", False):
        return ActorType.ANONYMOUS, "", "anonymous"
    if hasattr(actor, "get_username"):
        return ActorType.USER, str(actor.pk), actor.get_username()
    # a domain object standing for a person (e.g. org.Person)
    return ActorType.USER, f"{actor._meta.label_lower}:{actor.pk}", str(actor)


def object_ref(obj: Any) -> tuple[str, str]:
    """(type, id) for a model instance, a (type, id) pair, or None."""
    if obj is None:
        return "", ""
    if isinstance(obj, models.Model):
        return obj._meta.label_lower, str(obj.pk)
    if isinstance(obj, tuple) and len(obj) == 2:
        return str(obj[0]), str(obj[1])
    raise TypeError(f"cannot refer to {obj!r} in the audit log")


def append(actor: Any, action: str, obj: Any = None, outcome: str = Outcome.SUCCESS,
           details: dict | None = None, *, using: str = "default") -> AuditEntry:
    """Write one audit entry in the current transaction and return it."""
    if not transaction.get_connection(using).in_atomic_block:
        raise AuditOutsideTransaction(
            "audit.append() must be called inside transaction.atomic() so that the entry "
            "commits with the change it records"
        )
    ctx = context.current()
    if actor is None:
        actor = ctx.actor
    actor_type, actor_id, actor_label = _actor_fields(actor)
    object_type, object_id = object_ref(obj)
    # every entry must become a Merkle leaf: its details are JSON without NaN (issue 4)
    details_json = json.dumps(details or {}, allow_nan=False, ensure_ascii=False)
    values = {"created_at": timezone.now(), "actor_type": actor_type, "actor_id": actor_id,
              "actor_label": actor_label[:200], "action": action, "object_type": object_type,
              "object_id": object_id, "outcome": Outcome(outcome).value,
              "request_id": ctx.request_id, "client_addr": ctx.client_addr}
    # One plain INSERT: on the path of every business transaction, the ORM's create() costs
    # three times as much CPU (bench/audit.py). On PostgreSQL it is a prepared statement with
    # server-side parameters (no quoting of eleven values on the client, no parse on the
    # server), still through Django's cursor wrapper so query logging and execute wrappers
    # see it.
    connection = connections[using]
    row = [*values.values(), details_json]
    row[0] = connection.ops.adapt_datetimefield_value(values["created_at"])
    with _cursor(connection) as cur:
        cur.execute(_INSERT, row)
        entry_id = cur.fetchone()[0]
    entry = AuditEntry(id=entry_id, details=details or {}, **values)
    entry._state.adding, entry._state.db = False, using
    return entry


_INSERT = (
    "INSERT INTO audit_auditentry (created_at, actor_type, actor_id, actor_label, action, "
    "object_type, object_id, outcome, request_id, client_addr, details) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id")


def _cursor(connection):
    if (connection.vendor != "postgresql" or ServerBindingCursor is None
            or not getattr(settings, "WITNESS_AUDIT_PREPARED", True)):
        return connection.cursor()
    connection.ensure_connection()
    return connection._prepare_cursor(_PreparedCursor(connection.connection))


try:
    from django.db.backends.postgresql.base import ServerBindingCursor
except (ImportError, ImproperlyConfigured):  # psycopg 2, or no PostgreSQL driver
    ServerBindingCursor = None

if ServerBindingCursor is not None:
    class _PreparedCursor(ServerBindingCursor):
        """Binds parameters on the server and prepares the statement (once per connection;
        Django's connections otherwise never prepare, ``prepare_threshold`` being None)."""

        def execute(self, query, params=None, **kwargs):
            kwargs.setdefault("prepare", True)
            return super().execute(query, params, **kwargs)
