"""The verifiable audit log (issue 4; ING-4, GB/T 22239-2019 security audit): sequencing,
signed checkpoints, proofs, and `witness audit verify` finding every kind of tampering by
its leaf index. Tampering needs the append-only triggers out of the way: the tests drop them
inside the test's transaction (rolled back with it), as an attacker with database access
would."""

import base64
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from witness.audit import canonical, keys, log, merkle
from witness.audit import services as audit
from witness.audit.models import AuditEntry, AuditLeaf, AuditNode, Checkpoint
from witness.audit.sequencer import Sequencer, tree_size

pytestmark = pytest.mark.django_db

VERIFIER = Path(__file__).resolve().parents[3] / "docs" / "audit_verify.py"


def add(n, **details):
    with transaction.atomic():
        return [audit.append("system:test", "test.event", ("thing", i),
                             details={"i": i, "值": "测试", **details}) for i in range(n)]


def reference_bytes(entry):
    """canonical.encode_entry (the checked, published encoder) of a model instance."""
    return canonical.encode_entry({
        "id": entry.pk, "created_at": canonical.format_time(entry.created_at),
        **{name: getattr(entry, name) for name in canonical.STRING_FIELDS},
        "details": entry.details})


def leaves():
    return list(AuditLeaf.objects.order_by("index").values_list("index", "entry_id"))


@pytest.fixture(autouse=True)
def empty_log():
    """Each test starts from an empty log (entries committed by other tests survive the
    flush: the tables are append-only) — removed inside this test's transaction only."""
    untrigger()
    for table in ("audit_checkpoint", "audit_auditnode", "audit_auditleaf",
                  "audit_auditentry"):
        raw(f"DELETE FROM {table}")  # noqa: S608 - the fixed names above


@pytest.fixture
def signed(settings, tmp_path):
    settings.WITNESS_AUDIT_KEY = tmp_path / "audit.key"
    add(21)
    cp = log.checkpoint(actor="test")
    return cp


def untrigger():
    """Drop the append-only protection for the rest of this test's transaction."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            for table in ("audit_auditentry", "audit_auditleaf", "audit_auditnode",
                          "audit_checkpoint"):
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        else:
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                        "AND tbl_name LIKE 'audit_%'")
            for (name,) in cur.fetchall():
                cur.execute(f"DROP TRIGGER {name}")


def raw(sql, params=()):
    with connection.cursor() as cur:
        cur.execute(sql, params)


def test_sequencer_gives_gap_free_leaves_and_the_rfc6962_root_ING4():
    entries = add(10)
    sequencer = Sequencer(batch=3)
    assert sequencer.drain() == 10
    assert [i for i, _ in leaves()] == list(range(10))
    assert [e for _, e in leaves()] == [e.pk for e in entries]
    hashes = [merkle.leaf_hash(reference_bytes(e)) for e in AuditEntry.objects.order_by("id")]
    stored = [bytes(h) for h in AuditLeaf.objects.order_by("index")
              .values_list("leaf_hash", flat=True)]
    assert stored == hashes

    def mth(items):  # RFC 6962 §2.1, directly
        if len(items) == 1:
            return items[0]
        k = 1 << ((len(items) - 1).bit_length() - 1)
        return hashlib.sha256(b"\x01" + mth(items[:k]) + mth(items[k:])).digest()

    for size in range(1, 11):
        assert log.root(size) == mth(hashes[:size])
    assert AuditNode.objects.count() == 10 - bin(10).count("1")  # complete subtrees ≥ level 1
    assert sequencer.drain() == 0


def test_an_entry_committed_late_below_the_window_is_found_by_the_sweep_ING4(monkeypatch):
    from witness.audit import sequencer as seq

    first = add(5)[0]
    Sequencer().drain()
    late = AuditEntry.objects.create(  # took its id before the others, committed only now
        id=first.pk - 1, created_at=first.created_at, actor_type="system",
        actor_label="late", action="late.commit", outcome="success")
    monkeypatch.setattr(seq, "WINDOW", 1)
    assert Sequencer().step(sweep=False) == 0
    assert Sequencer().step(sweep=True) == 1
    assert AuditLeaf.objects.get(entry=late).index == tree_size() - 1


def test_checkpoint_is_signed_and_an_intact_log_verifies_ING4(signed):
    body = canonical.checkpoint_body(signed.tree_size, bytes(signed.root).hex(), signed.time)
    assert keys.signer().public.verify(bytes(signed.signature), body)
    assert signed.tree_size == 21 and tree_size() == 21  # its own entry comes next
    report = log.verify()
    assert report.ok, report.problems
    assert report.first_bad_index is None and report.checkpoints == 1


def test_sm2_checkpoints_verify_too_ING4(settings, tmp_path):
    settings.WITNESS_AUDIT_KEY = tmp_path / "sm2.key"
    settings.WITNESS_AUDIT_ALGORITHM = "sm2"
    add(3)
    cp = log.checkpoint(actor="test")
    assert cp.algorithm == "sm2" and len(bytes(cp.public_key)) == 91  # DER SPKI
    assert log.verify().ok
    export = tmp_path / "sm2.jsonl"
    export.write_text("".join(json.dumps(x) + "\n" for x in log.export(0, cp.tree_size)))
    key = tmp_path / "sm2.pem"
    key.write_text(keys.signer().public.pem())
    done = subprocess.run([sys.executable, str(VERIFIER), str(export), "--public-key",
                           str(key)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr  # this venv has gmssl: the SM2 signature checked


FIELDS = ["created_at", "actor_type", "actor_id", "actor_label", "action", "object_type",
          "object_id", "outcome", "request_id", "client_addr", "details"]


@pytest.mark.parametrize("field", FIELDS)
def test_a_changed_field_is_found_at_its_leaf_index_ING4(signed, field):
    target = AuditLeaf.objects.get(index=7).entry
    value = {"created_at": "2020-01-01 00:00:00+00", "details": '{"i": 8}'}.get(field, "X")
    if field == "created_at" and connection.vendor == "sqlite":
        value = "2020-01-01 00:00:00"
    raw(f"UPDATE audit_auditentry SET {field} = %s WHERE id = %s",  # noqa: S608 - FIELDS
        [value, target.pk])
    report = log.verify()
    assert not report.ok and report.first_bad_index == 7
    assert report.problems[0]["code"] == "entry_changed"


def test_a_changed_leaf_hash_is_found_ING4(signed):
    raw("UPDATE audit_auditleaf SET leaf_hash = %s WHERE \"index\" = 4", [b"\x00" * 32])
    assert log.verify().first_bad_index == 4


def test_an_entry_rewritten_with_its_leaf_hash_is_found_by_the_stored_tree_ING4(signed):
    entry = AuditLeaf.objects.get(index=4).entry
    raw("UPDATE audit_auditentry SET action = 'forged' WHERE id = %s", [entry.pk])
    raw("UPDATE audit_auditleaf SET leaf_hash = %s WHERE \"index\" = 4",
        [merkle.leaf_hash(reference_bytes(AuditEntry.objects.get(pk=entry.pk)))])
    report = log.verify()
    assert report.first_bad_index == 4 and report.problems[0]["code"] == "node_changed"


def test_a_deleted_entry_is_found_as_a_gap_ING4(signed):
    entry = AuditLeaf.objects.get(index=12).entry_id
    raw('DELETE FROM audit_auditleaf WHERE "index" = 12')
    raw("DELETE FROM audit_auditentry WHERE id = %s", [entry])
    report = log.verify()
    assert report.first_bad_index == 12 and report.problems[0]["code"] == "missing_leaf"


def test_a_swapped_pair_is_found_ING4(signed):
    a, b = (AuditLeaf.objects.get(index=i).entry_id for i in (5, 6))
    raw("UPDATE audit_auditleaf SET entry_id = %s WHERE \"index\" = 5", [-1])
    raw("UPDATE audit_auditleaf SET entry_id = %s WHERE \"index\" = 6", [a])
    raw("UPDATE audit_auditleaf SET entry_id = %s WHERE \"index\" = 5", [b])
    assert log.verify().first_bad_index == 5


def test_entries_cut_off_the_end_are_found_against_the_checkpoint_ING4(signed):
    size = signed.tree_size
    for index in (size - 1, size - 2):
        entry = AuditLeaf.objects.get(index=index).entry_id
        raw('DELETE FROM audit_auditnode WHERE completed_by = %s', [index])
        raw('DELETE FROM audit_auditleaf WHERE "index" = %s', [index])
        raw("DELETE FROM audit_auditentry WHERE id = %s", [entry])
    report = log.verify()
    assert report.first_bad_index == size - 2
    assert "log_truncated" in {p["code"] for p in report.problems}


@pytest.mark.parametrize("change", ["signature", "root", "size", "time", "key"])
def test_a_forged_or_truncated_checkpoint_is_found_ING4(signed, change, tmp_path):
    if change == "signature":
        sig = bytearray(bytes(signed.signature))
        sig[0] ^= 1
        raw("UPDATE audit_checkpoint SET signature = %s WHERE id = %s", [bytes(sig), signed.pk])
    elif change == "root":
        raw("UPDATE audit_checkpoint SET root = %s WHERE id = %s", [b"\x01" * 32, signed.pk])
    elif change == "size":
        raw("UPDATE audit_checkpoint SET tree_size = %s WHERE id = %s", [5, signed.pk])
    elif change == "time":
        digit = str((int(signed.time[-2]) + 1) % 10)  # the last microsecond digit, changed
        raw("UPDATE audit_checkpoint SET time = %s WHERE id = %s",
            [signed.time[:-2] + digit + "Z", signed.pk])
    else:  # signed by a key of the forger's own, stored beside it
        forger = keys.signer(tmp_path / "forger.key", "ed25519")
        body = canonical.checkpoint_body(signed.tree_size, bytes(signed.root).hex(),
                                         signed.time)
        raw("UPDATE audit_checkpoint SET public_key = %s, key_id = %s, signature = %s "
            "WHERE id = %s", [forger.public.raw, forger.public.key_id, forger.sign(body),
                              signed.pk])
    codes = {p["code"] for p in log.verify().problems}
    assert codes & {"bad_signature", "untrusted_key"}


def test_verify_from_the_shell_exits_1_naming_the_index_ING4(signed, capsys):
    call_command("audit", "verify", "--json")
    assert json.loads(capsys.readouterr().out)["ok"] is True
    raw("UPDATE audit_auditentry SET action = 'forged' WHERE id = %s",
        [AuditLeaf.objects.get(index=3).entry_id])
    with pytest.raises(SystemExit) as exited:
        call_command("audit", "verify", "--json")
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().out)["first_bad_index"] == 3


def test_witness_proofs_check_with_check_proof_and_broken_ones_do_not_ING4(signed, tmp_path,
                                                                      capsys):
    doc = log.inclusion(9)
    assert merkle.check_proof_document(doc)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(doc))
    call_command("audit", "check-proof", str(good), "--json")
    assert json.loads(capsys.readouterr().out)["valid"] is True
    broken = dict(doc, proof=[base64.b64encode(b"\x00" * 32).decode(), *doc["proof"][1:]])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    with pytest.raises(SystemExit) as exited:
        call_command("audit", "check-proof", str(bad))
    assert exited.value.code == 1
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    with pytest.raises(SystemExit) as exited:
        call_command("audit", "check-proof", str(junk))
    assert exited.value.code == 2
    cons = log.consistency(5, signed.tree_size)
    assert merkle.check_proof_document(cons)


def sign_at(size):
    signer = keys.signer()
    top = log.root(size)
    time = canonical.format_time(AuditEntry.objects.first().created_at)
    return Checkpoint.objects.create(
        tree_size=size, root=top, time=time, algorithm=signer.algorithm,
        key_id=signer.public.key_id, public_key=signer.public.raw,
        signature=signer.sign(canonical.checkpoint_body(size, top.hex(), time)))


def run_verifier(export, key, cwd):
    return subprocess.run([sys.executable, str(VERIFIER), str(export), "--public-key",
                           str(key)], capture_output=True, text=True, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin"}, timeout=120, check=False)


def test_outside_verifier_checks_witness_proofs_for_every_index_and_size_up_to_64_ING4(
        settings, tmp_path):
    """One export per tree size 1…64, each with every leaf's proof in that tree and the
    consistency proof from the size before; the verifier's own main() is called on each
    (loaded from its file: it imports nothing of witness, see test_outside_verifier)."""
    settings.WITNESS_AUDIT_KEY = tmp_path / "audit.key"
    add(64)
    Sequencer().drain()
    key = tmp_path / "key.pem"
    key.write_text(keys.signer().public.pem())
    spec = importlib.util.spec_from_file_location("audit_verify", VERIFIER)
    verifier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verifier)
    previous, proofs = None, 0
    for size in range(1, 65):
        lines = [log.checkpoint_json(sign_at(previous))] if previous else []
        lines.append(log.checkpoint_json(sign_at(size)))
        if previous:
            proof = log.consistency(previous, size)["proof"]
            lines.append({"type": "consistency", "size1": previous, "size2": size,
                          "proof": [base64.b64decode(p).hex() for p in proof]})
        for index in range(size):
            doc = log.inclusion(index, size)
            lines.append({"type": "entry", "index": index, "tree_size": size,
                          "entry": doc["entry"],
                          "leaf_hash": base64.b64decode(doc["leafHash"]).hex(),
                          "proof": [base64.b64decode(p).hex() for p in doc["proof"]]})
            proofs += 1
        export = tmp_path / f"size-{size}.jsonl"
        export.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
        assert verifier.main([str(export), "--public-key", str(key)]) == 0, size
        previous = size
    assert proofs == 64 * 65 // 2


def test_exported_range_verifies_outside_and_a_tampered_one_does_not_ING4(signed, tmp_path):
    add(7)
    log.checkpoint(actor="test")
    export = tmp_path / "range.jsonl"
    call_command("audit", "export", "--from", "3", "--to", "15", "--out", str(export))
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert [r["index"] for r in rows if r["type"] == "entry"] == list(range(3, 15))
    key = tmp_path / "key.pem"
    key.write_text(keys.signer().public.pem())
    assert run_verifier(export, key, tmp_path).returncode == 0
    text = export.read_text().replace('"test.event"', '"test.evenT"', 1)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(text)
    assert run_verifier(tampered, key, tmp_path).returncode == 1


def test_append_refuses_details_that_cannot_be_encoded_ING4():
    with pytest.raises(ValueError), transaction.atomic():
        audit.append("system:test", "bad", details={"x": float("nan")})


def test_the_fast_encoder_agrees_with_the_published_one_on_every_row_ING4():
    add(1, text="引号\"与\\反斜杠\n", nested={"b": [1, 2.5, None, True], "a": {"z": 1, "é": 2}},
        big=2**62, small=-1e-9)
    with transaction.atomic():
        audit.append(None, "x", None)  # empty strings, empty details
    Sequencer().drain()
    from witness.audit import store

    rows = list(store.leaves_with_entries())
    assert len(rows) == 2
    with transaction.atomic():
        encoded = {index: data for index, _leaf, data in store.encoded_leaves(0, 2)}
    for index, leaf, row in rows:
        entry = AuditEntry.objects.get(pk=row[0])
        assert store.encode_row(row) == reference_bytes(entry) == encoded[index]
        assert leaf == merkle.leaf_hash(reference_bytes(entry))


@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
                    max_size=40))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_postgresqls_string_escaping_is_pythons_for_any_text_ING4(text):
    """The SQL-built canonical bytes rely on to_json escaping text as json.dumps does with
    ensure_ascii=False (PostgreSQL only; SQLite uses the Python encoder)."""
    if connection.vendor != "postgresql" or "\x00" in text:  # text columns hold no NUL
        return
    with connection.cursor() as cur:
        cur.execute("SELECT to_json(%s::text)::text", [text])
        assert cur.fetchone()[0] == json.dumps(text, ensure_ascii=False)
