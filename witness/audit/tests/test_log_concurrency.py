"""Concurrent appends from several processes while the sequencer daemon runs give a
gap-free log in which every entry has exactly one leaf and which verifies (issue 4; on
PostgreSQL in CI, on SQLite too). Committed leaves would outlive the test (the tables are
append-only and survive the flush), so the test removes its tree again afterwards."""

import importlib
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from witness.audit import log
from witness.audit.models import AuditEntry, AuditLeaf, Checkpoint
from witness.audit.sequencer import Sequencer
from witness.testing.child import child_env, witness_binary

pytestmark = pytest.mark.django_db(transaction=True)

APPENDER = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "witness.settings")
import django
django.setup()
from django.db import transaction
from witness.audit import services as audit
for i in range(int(sys.argv[1])):
    with transaction.atomic():
        audit.append("system:test-writer", "test.concurrent", ("writer", sys.argv[2]),
                     details={"writer": sys.argv[2], "i": i})
"""


def _statements(migration, key):
    module = importlib.import_module(f"witness.audit.migrations.{migration}")
    return getattr(module, key)


@pytest.fixture
def own_tree(settings, tmp_path):
    settings.WITNESS_AUDIT_KEY = tmp_path / "audit.key"
    yield
    tables = ("audit_checkpoint", "audit_auditnode", "audit_auditleaf")
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            for table in tables:
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
                cur.execute(f"DELETE FROM {table}")  # noqa: S608 - the fixed names above
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        else:
            for sql in _statements("0004_merkle_append_only", "REVERSE")["sqlite"]:
                cur.execute(sql)
            for table in tables:
                cur.execute(f"DELETE FROM {table}")  # noqa: S608 - the fixed names above
            for sql in _statements("0004_merkle_append_only", "FORWARD")["sqlite"]:
                cur.execute(sql)


def test_concurrent_writers_and_the_sequencer_daemon_give_a_gap_free_verifiable_log_ING4(own_tree,
                                                                                 tmp_path):
    env = child_env(WITNESS_AUDIT_KEY=str(tmp_path / "audit.key"),
                    WITNESS_AUDIT_CHECKPOINT_SECONDS="1")
    before = AuditEntry.objects.count()
    daemon = subprocess.Popen([str(witness_binary()), "audit", "sequence", "--follow",
                               "--interval", "0.05"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        writers = [subprocess.Popen([sys.executable, "-c", APPENDER, "60", str(w)], env=env,
                                    stderr=subprocess.PIPE, text=True) for w in range(4)]
        for w in writers:
            _out, err = w.communicate(timeout=300)
            assert w.returncode == 0, err
        deadline = time.monotonic() + 60  # the daemon catches up and signs a checkpoint
        while not Checkpoint.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err
    Sequencer().drain()
    total = AuditEntry.objects.count()
    assert total >= before + 240
    indices = list(AuditLeaf.objects.order_by("index").values_list("index", flat=True))
    assert indices == list(range(total))  # every entry one leaf, no gaps
    assert AuditLeaf.objects.values("entry").distinct().count() == total
    written = AuditEntry.objects.filter(action="test.concurrent")
    assert written.count() == 240
    report = log.verify()
    assert report.ok, report.problems
    assert report.checkpoints >= 1  # the daemon's periodic checkpoint
