"""``witness import people|devices FILE`` (DEV-1): the thin command around
witness.org.importing and witness.devices.importing — output, --json, --dry-run and the
exit status."""

import csv
import io
import json

import pytest
from django.core.management import call_command

from witness.audit.models import AuditEntry
from witness.core.commands import BilingualCommandError
from witness.core.tabular import ImportFailed
from witness.devices.models import Device
from witness.org.models import Person

HEADER = ["姓名", "执法证号", "单位", "角色", "电话", "用户名", "在职"]


@pytest.fixture
def org(make_agency):
    return make_agency("lushan-2019")


def people_csv(tmp_path, *rows):
    path = tmp_path / "人员.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


GOOD = (["王五", "41049001", "执法一科", "执法人员、保管人", "", "wangwu", ""],
        ["赵六", "41049002", "办公室", "法规股", "", "", ""])
BAD = ["钱七", "41049001", "执法一科", "国王", "", "", ""]


def run(*args):
    out = io.StringIO()
    call_command("import", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_people_import_reports_rows_and_accounts_without_password(org, tmp_path):
    output = run("people", people_csv(tmp_path, *GOOD))
    assert "Imported 2 rows from 人员.csv" in output
    assert "wangwu" in output and "changepassword" in output
    assert Person.objects.filter(badge_number__in=["41049001", "41049002"]).count() == 2
    entry = AuditEntry.objects.get(action="import.people")
    assert entry.actor_label.startswith("cli")


def test_people_import_json(org, tmp_path):
    data = json.loads(run("people", people_csv(tmp_path, *GOOD), "--json"))
    assert data["ok"] is True and data["imported"] == 2 and data["errors"] == []
    assert data["accounts_without_password"] == ["wangwu"]


def test_bad_file_exits_1_lists_rows_and_imports_nothing(org, tmp_path):
    path = people_csv(tmp_path, *GOOD, BAD)
    out = io.StringIO()
    before = (Person.objects.count(), AuditEntry.objects.count())
    with pytest.raises(BilingualCommandError) as info:
        call_command("import", "people", str(path), stdout=out)
    assert info.value.returncode == 1
    assert isinstance(info.value.error, ImportFailed)
    text = out.getvalue()
    assert "4" in text and "国王" in text and "41049001" in text and "row 2" in text
    assert (Person.objects.count(), AuditEntry.objects.count()) == before


def test_bad_file_json_names_every_bad_row(org, tmp_path):
    out = io.StringIO()
    with pytest.raises(BilingualCommandError):
        call_command("import", "people", str(people_csv(tmp_path, *GOOD, BAD)), "--json",
                     stdout=out)
    data = json.loads(out.getvalue())
    assert data["ok"] is False and data["imported"] == 0
    assert [(e["row"], e["column"], e["value"]) for e in data["errors"]] == [
        (4, "执法证号", "41049001"), (4, "角色", "国王")]
    assert all(e["zh"] and e["en"] for e in data["errors"])


def test_dry_run_checks_but_writes_nothing(org, tmp_path):
    before = (Person.objects.count(), AuditEntry.objects.count())
    data = json.loads(run("people", people_csv(tmp_path, *GOOD), "--dry-run", "--json"))
    assert (data["ok"], data["imported"], data["rows"], data["dry_run"]) == (True, 0, 2, True)
    assert "nothing was imported" in run("people", people_csv(tmp_path, *GOOD), "--dry-run")
    assert (Person.objects.count(), AuditEntry.objects.count()) == before


def test_dry_run_still_reports_bad_rows(org, tmp_path):
    with pytest.raises(BilingualCommandError):
        run("people", people_csv(tmp_path, BAD), "--dry-run")


def test_devices_import(org, tmp_path):
    path = tmp_path / "设备.csv"
    keeper = org.people["custodian"]
    path.write_bytes(("类型,序列号,型号,所属单位,保管人\n"
                      f"执法记录仪,ZF-1,DSJ,执法一科,{keeper.badge_number}\n"
                      "照相机,ZX-1,EOS,办公室,\n").encode("gb18030"))
    data = json.loads(run("devices", path, "--json"))
    assert data["imported"] == 2
    assert Device.objects.get(serial="ZF-1").custodian == keeper


@pytest.mark.django_db(transaction=True)
def test_from_the_command_line_exit_status_and_single_json_document(make_agency, tmp_path,
                                                                   capsys):
    """As `witness import people FILE --json`: exit 1, stdout holds one JSON document
    with every error, stderr the bilingual summary."""
    from django.core.management import load_command_class

    make_agency("lushan-2019")
    path = people_csv(tmp_path, *GOOD, BAD)
    command = load_command_class("witness.cli", "import")
    with pytest.raises(SystemExit) as info:
        command.run_from_argv(["witness", "import", "people", str(path), "--json"])
    assert info.value.code == 1
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["errors"]) == 2
    assert "人员.csv" in captured.err
