"""Audit-log benchmark (issue 4): append throughput, sequencing delay, verification and
proof cost, each beside its physical reference measured in the same run.

    .venv/bin/python bench/audit.py [--entries 1000000] [--writers 8] [--seconds 20]

* **Append** (PostgreSQL): ``--writers`` processes, each transaction one domain update (a
  device row of its own) and one audit entry, for ``--seconds``, while the sequencer daemon
  runs. Reference: the fdatasync rate ``pg_test_fsync`` reports for a file beside the
  PostgreSQL data directory; target ≥ 0.25×. Beside it, the same transactions without the
  entry: where the CPU, not the disk, is the limit, that ratio is the audit's own cost.
  ``fsync`` and ``synchronous_commit`` are printed and must be on (the benchmark refuses to
  run otherwise). The p50/p99 delay from an
  entry's time to its leaf (target p99 ≤ 2 s). The same on SQLite (WAL) for comparison.
* **Verify**: a log of ``--entries`` entries (inserted in bulk, then sequenced by the real
  sequencer), ``witness audit verify`` in-process (every entry re-encoded, every leaf and
  node recomputed and compared, every checkpoint checked), beside the hashing alone: the
  same canonical bytes, already in memory, hashed into the same tree with hashlib
  (target ≤ 15 s at 1,000,000).
* **Proofs**: inclusion and consistency proofs for random indices at that size (target
  ≤ 5 ms each), beside hashing the proof's path alone.

A benchmark, not a test: it creates and drops the database ``witness_bench_audit``.
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432/"
DB = "witness_bench_audit"
WITNESS = str(Path(sys.executable).with_name("witness"))

WRITER = """
import os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "witness.settings")
import django
django.setup()
from django.db import transaction
from witness.audit import services as audit
from witness.devices.models import Device
device, begin, until, entry, n = (int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]),
                                  sys.argv[4] == "entry", 0)
Device.objects.filter(pk=device).exists()  # connected before the clock starts
time.sleep(max(0.0, begin - time.time()))
while time.time() < until:
    with transaction.atomic():
        Device.objects.filter(pk=device).update(notes=f"bench {n}")
        if entry:
            audit.append("system:bench", "device.bench", ("devices.device", device),
                         details={"n": n})
    n += 1
print(n)
"""


# A device row of its own for each writer (cloned from a demo device where the demo has
# fewer): writers that shared rows would wait on each other's row locks, and that wait
# grows with everything else the transaction does, the audit entry included.
DEVICES = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "witness.settings")
import django
django.setup()
from witness.devices.models import Device
writers = int(sys.argv[1])
ids = list(Device.objects.order_by("pk").values_list("pk", flat=True))
model = Device.objects.get(pk=ids[0])
for n in range(len(ids), writers):
    model.pk, model.serial = None, f"BENCH-{n}"
    model.save()
    ids.append(model.pk)
print(" ".join(str(pk) for pk in ids[:writers]))
"""


def psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(["psql", "-U", "postgres", "-h", "127.0.0.1", "-d", db, "-Atc", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def pg_fdatasync_rate() -> float:
    """ops/s of fdatasync from pg_test_fsync, on a file beside the data directory."""
    tool = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_test_fsync"))[-1]
    data = Path(psql("SHOW data_directory"))
    probe = data.parent / "bench_fsync.tmp" if os.access(data.parent, os.W_OK) else \
        Path(tempfile.gettempdir()) / "bench_fsync.tmp"
    out = subprocess.run([tool, "-s", "3", "-f", str(probe)], check=True, capture_output=True,
                         text=True).stdout
    probe.unlink(missing_ok=True)
    match = re.search(r"^\s*fdatasync\s+([0-9.,]+) ops/sec", out, re.M)
    return float(match.group(1).replace(",", ""))


def writers_run(env: dict, writers: int, seconds: float,
                entry: bool = True) -> tuple[float, list[float]]:
    """Append throughput (transactions/s) and the entry → leaf delays (s); ``entry`` False:
    the same transactions without their audit entry (what the audit itself costs)."""
    subprocess.run([WITNESS, "migrate", "--no-input"], env=env, check=True,
                   capture_output=True)
    subprocess.run([WITNESS, "demo", "--no-recordings"], env=env, check=True,
                   capture_output=True)
    ids = subprocess.run([sys.executable, "-c", DEVICES, str(writers)],
                         env=env, check=True, capture_output=True, text=True).stdout.split()
    daemon = subprocess.Popen([WITNESS, "audit", "sequence", "--follow", "--interval", "0.1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(2)
        begin = time.time() + 10  # every writer has started Django and connected by then
        until = begin + seconds
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, ids[w],
                                   str(begin), str(until), "entry" if entry else "none"],
                                  env=env, stdout=subprocess.PIPE, text=True)
                 for w in range(writers)]
        done = sum(int(p.communicate()[0]) for p in procs)
        elapsed = seconds
        time.sleep(3)  # the sequencer catches up
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
    delays = subprocess.run([sys.executable, "-c", (
        "import os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','witness.settings');"
        "import django;django.setup();from witness.audit.models import AuditLeaf;"
        "rows=AuditLeaf.objects.filter(entry__action='device.bench').values_list("
        "'sequenced_at','entry__created_at');"
        "print(' '.join(str((s-c).total_seconds()) for s,c in rows))")],
        env=env, check=True, capture_output=True, text=True).stdout.split()
    return done / elapsed, [float(d) for d in delays]


PGBENCH = """\\set d :client_id
BEGIN;
UPDATE devices_device SET notes = 'pgbench' WHERE id = (SELECT min(id) FROM devices_device) + :d;
INSERT INTO audit_auditentry (created_at, actor_type, actor_id, actor_label, action, object_type,
  object_id, outcome, request_id, client_addr, details) VALUES (now(), 'system', '',
  'system:pgbench', 'device.bench', 'devices.device', :d, 'success', '', '', '{"n": 1}');
END;
"""


def pgbench_rate(writers: int, seconds: float) -> float:
    """The same transaction shape driven by pgbench (a C client): what the database itself
    sustains on this machine, without Python on the client side."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as fh:
        fh.write(PGBENCH)
    try:
        out = subprocess.run(["pgbench", "-n", "-U", "postgres", "-h", "127.0.0.1", "-c",
                              str(writers), "-j", str(min(writers, os.cpu_count() or 1)),
                              "-T", str(int(seconds)), "-f", fh.name, DB],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(fh.name)
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def big_log(n: int) -> tuple[float, float]:
    """Insert ``n`` entries in bulk and sequence them; returns (insert s, sequence s)."""
    from django.db import connection
    from django.utils import timezone

    from witness.audit.models import AuditEntry
    from witness.audit.sequencer import Sequencer

    start = time.perf_counter()
    now = timezone.now()
    batch = []
    for i in range(n):
        batch.append(AuditEntry(created_at=now, actor_type="user", actor_id=str(i % 50),
                                actor_label=f"user{i % 50}", action="recording.play",
                                object_type="recordings.recording", object_id=str(i),
                                outcome="success", request_id=f"{i:032x}",
                                client_addr="10.0.0.1",
                                details={"seconds": i % 300, "range": [0, i], "查阅": "是"}))
        if len(batch) == 20000:
            AuditEntry.objects.bulk_create(batch)
            batch = []
    AuditEntry.objects.bulk_create(batch)
    inserted = time.perf_counter() - start
    start = time.perf_counter()
    Sequencer(batch=20000).drain()
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("VACUUM ANALYZE audit_auditleaf")
            cur.execute("VACUUM ANALYZE audit_auditnode")
            cur.execute("VACUUM ANALYZE audit_auditentry")
    return inserted, time.perf_counter() - start


def hashing_baseline() -> float:
    """The hashing alone: every entry's canonical bytes (made beforehand, in memory) into
    leaf hashes and the tree's nodes."""
    from django.db import transaction

    from witness.audit import merkle, store
    from witness.audit.sequencer import tree_size

    with transaction.atomic():
        data = [item for _i, _leaf, item in store.encoded_leaves(0, tree_size())]
    start = time.perf_counter()
    appender = merkle.Appender()
    for item in data:
        appender.append(merkle.leaf_hash(item))
    appender.root()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--proofs", type=int, default=1000)
    args = parser.parse_args()

    fsync, sync_commit = psql("SHOW fsync"), psql("SHOW synchronous_commit")
    if fsync != "on" or sync_commit != "on":
        print(f"refusing to run: fsync={fsync} synchronous_commit={sync_commit} (both must be "
              "on)", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="bench-audit-", dir=ROOT / "var"))
    base = {**os.environ, "WITNESS_HOME": str(home), "DJANGO_SETTINGS_MODULE": "witness.settings",
            "WITNESS_AUDIT_CHECKPOINT_SECONDS": "5"}
    fdatasync = pg_fdatasync_rate()
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    pg_env = {**base, "DATABASE_URL": PG + DB}
    sqlite_env = {**base, "DATABASE_URL": f"sqlite:///{home / 'bench.sqlite3'}"}
    try:
        sqlite_rate, sqlite_delays = writers_run(sqlite_env, args.writers, args.seconds)
        pg_bare, _ = writers_run(pg_env, args.writers, args.seconds, entry=False)
        pg_rate, pg_delays = writers_run(pg_env, args.writers, args.seconds)
        pg_c = pgbench_rate(args.writers, args.seconds)
        os.environ.update(pg_env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

        from witness.audit import log, merkle
        from witness.audit.sequencer import tree_size

        inserted, sequenced = big_log(args.entries)
        log.checkpoint(sequence=True)
        size = tree_size()
        start = time.perf_counter()
        report = log.verify()
        verify_s = time.perf_counter() - start
        baseline_s = hashing_baseline()
        rng = random.Random(7)  # noqa: S311 - which leaves to prove, not a secret
        start = time.perf_counter()
        for _ in range(args.proofs):
            log.inclusion(rng.randrange(size), size)
        inclusion_ms = (time.perf_counter() - start) * 1000 / args.proofs
        start = time.perf_counter()
        for _ in range(args.proofs // 10):
            a = rng.randrange(1, size)
            log.consistency(a, size)
        consistency_ms = (time.perf_counter() - start) * 1000 / (args.proofs // 10)
        doc = log.inclusion(size // 3, size)
        import base64

        start = time.perf_counter()
        for _ in range(args.proofs):
            merkle.verify_inclusion(base64.b64decode(doc["leafHash"]), size // 3, size,
                                    [base64.b64decode(p) for p in doc["proof"]],
                                    base64.b64decode(doc["root"]))
        path_ms = (time.perf_counter() - start) * 1000 / args.proofs
    finally:
        from django.db import connections

        connections.close_all()
        psql(f"DROP DATABASE IF EXISTS {DB}")

    print(f"bench/audit.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  cores {os.cpu_count()}  "
          f"PostgreSQL fsync={fsync} synchronous_commit={sync_commit}  writers {args.writers} "
          f"× {args.seconds:.0f} s")
    print()
    print(f"| {'measurement':<58} | {'value':>12} | {'reference':>12} | {'ratio':>6} |")
    print(f"|{'-' * 60}|{'-' * 14}|{'-' * 14}|{'-' * 8}|")

    def line(name, value, ref="", ratio=""):
        print(f"| {name:<58} | {value:>12} | {ref:>12} | {ratio:>6} |")

    line("pg_test_fsync fdatasync (ops/s)", f"{fdatasync:,.0f}")
    line("append, PostgreSQL: update + entry per transaction (tx/s)", f"{pg_rate:,.0f}",
         f"{fdatasync:,.0f}", f"{pg_rate / fdatasync:.2f}")
    line("  the same transactions without the entry (tx/s)", f"{pg_bare:,.0f}",
         f"{pg_rate:,.0f}", f"{pg_rate / pg_bare:.2f}")
    line("  the same transactions from pgbench, no Python (tx/s)", f"{pg_c:,.0f}",
         f"{pg_rate:,.0f}", f"{pg_rate / pg_c:.2f}")
    line("append, SQLite WAL (tx/s)", f"{sqlite_rate:,.0f}")
    line("entry → leaf delay, PostgreSQL p50 / p99 (s)",
         f"{pct(pg_delays, 50):.2f} / {pct(pg_delays, 99):.2f}", "2.00 (p99)")
    line("entry → leaf delay, SQLite p50 / p99 (s)",
         f"{pct(sqlite_delays, 50):.2f} / {pct(sqlite_delays, 99):.2f}", "2.00 (p99)")
    line(f"bulk insert of {args.entries:,} entries (s)", f"{inserted:.1f}")
    line("sequencing them (s; entries/s)", f"{sequenced:.1f}",
         f"{args.entries / sequenced:,.0f}/s")
    line(f"witness audit verify, {size:,} leaves (s)", f"{verify_s:.1f}", f"{baseline_s:.1f}",
         f"{verify_s / baseline_s:.1f}")
    line("inclusion proof at that size (ms)", f"{inclusion_ms:.2f}", f"{path_ms:.3f}",
         f"{inclusion_ms / path_ms:.0f}")
    line("consistency proof at that size (ms)", f"{consistency_ms:.2f}")
    print()
    print(f"verify {'intact' if report.ok else 'NOT intact'}: {report.checkpoints} checkpoints; "
          "verify's reference = hashlib alone over the same canonical bytes in memory; "
          "a proof's reference = verifying its path with hashlib. Targets: append ≥ 0.25 × "
          "fdatasync; p99 ≤ 2 s; verify ≤ 15 s at 1,000,000; proofs ≤ 5 ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
