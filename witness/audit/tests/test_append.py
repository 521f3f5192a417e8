"""The audit table is append-only (GB/T 22239-2019 level 3: records protected from
deletion and overwrite; ING-4) and entries commit with the change they record."""

import pytest
from django.db import DatabaseError, connection, transaction

from witness.audit import context
from witness.audit import services as audit
from witness.audit.models import AuditEntry
from witness.testing.factories import UserFactory


@pytest.fixture
def entry(db):
    with transaction.atomic():
        return audit.append("system:test", "test.action", ("thing", 7), details={"a": 1})


def test_append_records_actor_object_outcome_and_context(db):
    user = UserFactory(username="li")
    with context.bind(request_id="req-1", client_addr="10.1.2.3"), transaction.atomic():
        e = audit.append(user, "device.issue", ("devices.device", 3), details={"x": "值"})
    e.refresh_from_db()
    assert (e.actor_type, e.actor_id, e.actor_label) == ("user", str(user.pk), "li")
    assert (e.object_type, e.object_id, e.outcome) == ("devices.device", "3", "success")
    assert (e.request_id, e.client_addr) == ("req-1", "10.1.2.3")
    assert e.details == {"x": "值"}
    assert e.created_at.utcoffset().total_seconds() == 0


@pytest.mark.django_db(transaction=True)
def test_append_outside_a_transaction_is_refused():
    with pytest.raises(audit.AuditOutsideTransaction):
        audit.append(None, "x")


def test_entry_rolls_back_with_the_business_change(db):
    before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.append(None, "doomed")
        raise RuntimeError("business failure")
    assert AuditEntry.objects.count() == before


def test_update_is_rejected_by_the_database(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
    entry.refresh_from_db()
    assert entry.action == "test.action"


def test_delete_is_rejected_by_the_database(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_raw_sql_update_is_rejected_too(entry):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET details = '{}' WHERE id = %s", [entry.pk])


@pytest.mark.postgres_only
def test_truncate_is_rejected_on_postgresql(entry):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cur:
        cur.execute("TRUNCATE audit_auditentry CASCADE")  # the leaves that refer to it too
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


CHANGES = {"audit_auditleaf": "UPDATE audit_auditleaf SET sequenced_at = sequenced_at",
           "audit_auditnode": "UPDATE audit_auditnode SET level = level",
           "audit_checkpoint": "UPDATE audit_checkpoint SET tree_size = 0"}


@pytest.mark.parametrize("table", sorted(CHANGES))
def test_the_merkle_tables_are_append_only_too(db, table, settings, tmp_path):
    """Issue 4: leaves, subtree hashes and checkpoints reject UPDATE and DELETE."""
    from witness.audit import log

    settings.WITNESS_AUDIT_KEY = tmp_path / "k"
    with transaction.atomic():
        for i in range(3):
            audit.append("system:test", "test.action", ("thing", i))
    log.checkpoint(actor="test")
    for sql in (CHANGES[table], f"DELETE FROM {table}"):  # noqa: S608 - fixed names
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cur:
            cur.execute(sql)
