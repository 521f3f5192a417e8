"""The viewing register (查阅登记簿, EVD-2): its rows, CSV and PDF, and `witness requests`."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from witness.access import chain
from witness.access import register as book
from witness.access.models import StepState
from witness.audit.models import AuditEntry
from witness.recordings.models import Attribution
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def granted(make_agency):
    """A granted viewing request and a rejected one, in an agency under lushan-2019."""
    ns = make_agency()
    officer = ns.people["officer"]
    case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"])
    act = f.ActivityFactory(unit=ns.field, case=case)
    f.ActivityOfficerFactory(activity=act, person=officer)
    device = f.DeviceFactory(unit=ns.field)
    recs = [f.RecordingFactory(device=device, activity=act, holder=officer,
                               attribution=Attribution.ATTRIBUTED) for _ in range(2)]
    now = timezone.now()

    def ask(reason):
        return chain.submit(officer, recordings=recs, reason=reason, wanted_from=now,
                            wanted_until=now + timedelta(days=5), may_download=True,
                            actor="test")

    req = ask("行政复议答复需要")
    while (step := req.steps.filter(state=StepState.OPEN).first()) is not None:
        chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
    rejected = ask("不充分的理由")
    step = rejected.steps.get(state=StepState.OPEN)
    chain.decide(step, chain.deciders(step).first(), False, "不予批准", actor="test")
    ns.req, ns.recs, ns.officer = req, recs, officer
    return ns


def test_evd2_register_holds_registrations_only(granted):
    rows = book.rows(book.entries(None))
    assert len(rows) == 1  # the rejected request never reached registration
    [row] = rows
    assert row["viewer"] == granted.officer.name
    assert row["badge"] == granted.officer.badge_number
    assert row["reason"] == "行政复议答复需要"
    assert row["registered_by"] == granted.people["custodian"].name
    assert row["request"] == f"#{granted.req.pk}"
    for rec in granted.recs:
        assert f"#{rec.pk} {rec.source_path}" in row["recordings"]
    assert row["valid_until"] == timezone.localtime(granted.req.wanted_until).strftime(
        "%Y-%m-%d %H:%M")


def test_evd2_register_csv_is_excel_ready(granted):
    content = book.export("test", "csv", book.entries(None), agency=granted.agency.name)
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert len(rows) == 2
    header, row = rows
    assert "登记时间" in header and any("查阅事由" in h for h in header)
    assert granted.officer.name in row and "行政复议答复需要" in row
    entry = AuditEntry.objects.get(action="register.export")
    assert entry.details["format"] == "csv" and entry.details["rows"] == 1


def test_evd2_register_grant_state_follows_revocation(granted):
    chain.revoke(granted.req, granted.people["custodian"], "办结", actor="test")
    [row] = book.rows(book.entries(None))
    assert row["grant"] in ("已撤销", "revoked")


def test_evd2_register_period_filter(granted):
    later = timezone.now() + timedelta(hours=1)
    assert not book.entries(None, since=later).exists()
    assert book.entries(None, until=later).count() == 1


def pdf_text(path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is missing")
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return re.sub(r"\s+", "", out)


def test_evd2_register_pdf(granted, tmp_path):
    content = book.export("test", "pdf", book.entries(None), agency=granted.agency.name)
    path = tmp_path / "r.pdf"
    path.write_bytes(content)
    text = pdf_text(path)
    assert granted.officer.name in text and "行政复议答复需要" in text
    assert granted.agency.name in text
    assert re.sub(r"\s+", "", granted.recs[0].source_path) in text


def test_evd2_cli_requests_list_json(granted):
    out = io.StringIO()
    call_command("requests", "list", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert [(r["id"], r["status"]) for r in data] == [
        (granted.req.pk + 1, "rejected"), (granted.req.pk, "granted")]
    assert data[1]["recordings"] == 2
    out = io.StringIO()
    call_command("requests", "list", "--status", "granted", "--json", stdout=out)
    assert [r["id"] for r in json.loads(out.getvalue())] == [granted.req.pk]


def test_evd2_cli_register_csv_and_pdf(granted, tmp_path):
    target = tmp_path / "登记簿.csv"
    out = io.StringIO()
    call_command("requests", "register", "--csv", str(target), "--json", stdout=out)
    assert json.loads(out.getvalue())["rows"] == 1
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "行政复议答复需要" in target.read_text("utf-8-sig")
    pdf = tmp_path / "登记簿.pdf"
    call_command("requests", "register", "--pdf", str(pdf), stdout=io.StringIO())
    assert "行政复议答复需要" in pdf_text(pdf)
    assert AuditEntry.objects.filter(action="register.export").count() == 2


def test_evd2_cli_register_bad_period_is_bilingual(granted, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as bad:
        call_command("requests", "register", "--from", "2026-11-20T10:00", "--to",
                     "2026-11-19T10:00", "--csv", str(tmp_path / "x.csv"),
                     stdout=io.StringIO())
    assert "end must be after the start" in str(bad.value)
    assert not (tmp_path / "x.csv").exists()
