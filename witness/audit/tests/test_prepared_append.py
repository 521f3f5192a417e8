"""The audit append (issue 4 item 1) as a server-side prepared statement on PostgreSQL, and
as a plain parameterised INSERT where ``WITNESS_AUDIT_PREPARED`` is off (behind a pooler in
transaction mode): the same entry either way."""

import pytest
from django.db import connection

from witness.audit import services as audit
from witness.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prepared", [True, False])
def test_an_append_stores_the_same_entry_prepared_or_not(settings, prepared):
    settings.WITNESS_AUDIT_PREPARED = prepared
    entry = audit.append("system:test", "test.prepared", details={"prepared": prepared})
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.action, stored.actor_label, stored.details) == (
        "test.prepared", "system:test", {"prepared": prepared})


@pytest.mark.parametrize("prepared", [True, False])
def test_the_cursor_prepares_only_on_postgresql_and_only_when_enabled(settings, prepared):
    settings.WITNESS_AUDIT_PREPARED = prepared
    with audit._cursor(connection) as cur:
        raw = getattr(cur, "cursor", cur)
        is_prepared = type(raw).__name__ == "_PreparedCursor"
    assert is_prepared == (prepared and connection.vendor == "postgresql")
