"""`witness profile list|show|apply|new` (ACT-1, RET-1 and every other profile field)."""

import json
from datetime import UTC, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone, translation

from witness.audit.models import AuditEntry
from witness.core.commands import BilingualCommandError
from witness.profiles import services
from witness.profiles.management.commands.profile import Command
from witness.profiles.models import ProfileActivation, ProfileVersion
from witness.profiles.schema import FIELDS


def run(*args):
    out = StringIO()
    call_command("profile", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def text(*args) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command("profile", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def agency_dir(settings, tmp_path):
    settings.WITNESS_PROFILE_DIR = tmp_path
    return tmp_path


def test_list_shows_shipped_and_agency_profiles_and_the_active_one(make_agency, agency_dir):
    agency = make_agency("full-process-b").agency
    services.new("ours", "lushan-2019")
    (agency_dir / "broken.toml").write_text('name = "broken"\n', encoding="utf-8")
    data = run("list")
    assert data["agency"] == agency.name
    rows = {p["name"]: p for p in data["profiles"]}
    assert rows["lushan-2019"]["origin"] == "shipped"
    assert rows["ours"]["origin"] == "agency" and rows["ours"]["regulation"] == "A"
    assert rows["full-process-b"]["active"] and rows["full-process-b"]["active_version"] == 1
    assert not rows["lushan-2019"]["active"]
    assert rows["broken"]["error"]["code"] == "profile_invalid"
    assert "field title" in rows["broken"]["error"]["en"]
    listing = text("list")
    assert "In force" in listing and "│ v1 " in listing


def test_list_without_an_agency(db):
    data = run("list")
    assert data["agency"] is None
    assert not any(p["active"] for p in data["profiles"])


def test_show_prints_every_field_with_its_article(db):
    data = run("show", "full-process-b")
    cited = {f["field"]: f["source"] for f in data["fields"]}
    assert set(cited) == {"activity_types", *FIELDS}
    assert cited["recording.min_officers"] == "B12"
    values = {f["field"]: f["value"] for f in data["fields"]}
    assert values["retention.months"] == 12 and values["devices.issue_scope"] == "unit"
    assert data["activity_types"][0]["code"] == "routine_inspection"
    shown = text("show", "lushan-2019")
    for field in FIELDS:
        assert field in shown
    assert "retention.months = 24  [A15]" in shown
    assert "recording.work_record_review = principal_leader  [A12]" in shown


def test_show_unknown_profile_is_a_bilingual_error(db):
    with pytest.raises(BilingualCommandError) as err:
        call_command("profile", "show", "nope", stdout=StringIO())
    assert err.value.error.code == "not_found"


def test_new_then_apply_then_edit_makes_version_2(make_agency, agency_dir):
    agency = make_agency("lushan-2019").agency
    made = run("new", "ours", "--from", "full-process-b")
    path = agency_dir / "ours.toml"
    assert made["path"] == str(path) and path.exists()
    assert "# Based on full-process-b" in path.read_text(encoding="utf-8")
    # 08:00 local time, after the first activation (400 days ago) and before now
    local = (timezone.localtime() - timedelta(days=100)).replace(hour=8, minute=0, second=0,
                                                                 microsecond=0)
    applied = run("apply", "ours", "--effective-from", local.strftime("%Y-%m-%dT%H:%M"))
    assert (applied["profile"], applied["version"], applied["new_version"]) == ("ours", 1, True)
    assert applied["effective_from"] == local.isoformat()
    assert applied["effective_from"].endswith("T08:00:00+08:00")   # local time
    activation = ProfileActivation.objects.latest("id")
    assert activation.effective_from.isoformat() == local.astimezone(UTC).isoformat()
    assert activation.effective_from.hour == 0   # stored in UTC
    again = run("apply", "ours")
    assert (again["version"], again["new_version"]) == (1, False)
    path.write_text(path.read_text(encoding="utf-8").replace("months = 12", "months = 18"),
                    encoding="utf-8")
    edited = run("apply", "ours")
    assert (edited["version"], edited["new_version"]) == (2, True)
    assert services.active(agency)[1].retention_months == 18
    assert AuditEntry.objects.filter(action="profile.apply").count() == 1 + 3
    assert AuditEntry.objects.filter(action="profile.version",
                                     details__name="ours").count() == 2
    assert "version 2" in text("apply", "ours")


def test_apply_a_broken_profile_names_the_field_and_changes_nothing(make_agency, agency_dir):
    agency = make_agency("lushan-2019").agency
    path = services.new("ours", "lushan-2019")
    path.write_text(path.read_text(encoding="utf-8").replace('issue_scope = "agency"',
                                                             'issue_scope = "bureau"'),
                    encoding="utf-8")
    with pytest.raises(BilingualCommandError) as err:
        call_command("profile", "apply", "ours", stdout=StringIO())
    assert "devices.issue_scope" in err.value.error.en
    assert not ProfileVersion.objects.filter(name="ours").exists()
    assert services.active(agency)[0].name == "lushan-2019"


def test_apply_with_a_bad_time_is_refused(make_agency):
    make_agency("lushan-2019")
    with pytest.raises(BilingualCommandError) as err:
        call_command("profile", "apply", "full-process-b", "--effective-from", "soon",
                     stdout=StringIO())
    assert err.value.error.code == "bad_datetime"
    assert ProfileActivation.objects.count() == 1


def test_apply_before_the_profile_in_force_is_refused(make_agency):
    """ACT-1: `apply --effective-from` cannot reach behind the activation in force."""
    agency = make_agency("lushan-2019").agency
    run("apply", "full-process-b", "--effective-from",
        timezone.localtime(timezone.now() - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"))
    with pytest.raises(BilingualCommandError) as err:
        call_command("profile", "apply", "lushan-2019", "--effective-from",
                     timezone.localtime(timezone.now() - timedelta(days=20))
                     .strftime("%Y-%m-%dT%H:%M"), stdout=StringIO())
    assert err.value.error.code == "before_current_profile"
    assert ProfileActivation.objects.filter(agency=agency).count() == 2
    assert services.active(agency)[0].name == "full-process-b"


def test_every_subcommand_has_help():
    command = Command()
    with translation.override("en"):
        parser = command.create_parser("witness", "profile")
        assert parser.description == command.help and command.help
        sub = next(a for a in parser._actions if a.dest == "subcommand")
        assert set(sub.choices) == {"list", "show", "apply", "new"}
        for name, child in sub.choices.items():
            assert child.description == command.subcommands[name] and child.description
