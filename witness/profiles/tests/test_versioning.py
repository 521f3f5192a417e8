"""Profile versioning and activation: applying a changed file stores a new version,
unchanged content does not, and an activity is judged under the version in force when it
happened (ACT-1; docs/profiles.md)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from witness.activities import services as activities
from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError
from witness.profiles import services
from witness.profiles.models import ProfileActivation, ProfileVersion


@pytest.fixture
def agency_dir(settings, tmp_path):
    settings.WITNESS_PROFILE_DIR = tmp_path
    return tmp_path


def test_editing_and_reapplying_makes_version_2_unchanged_does_not(make_agency, agency_dir):
    agency = make_agency("lushan-2019").agency
    path = services.new("ours", "lushan-2019")
    assert path == agency_dir / "ours.toml"
    first = services.apply(agency, "ours")
    assert first.version.version == 1
    again = services.apply(agency, "ours")
    assert again.version == first.version
    assert ProfileVersion.objects.filter(name="ours").count() == 1
    path.write_text(path.read_text(encoding="utf-8").replace("months = 24", "months = 36"),
                    encoding="utf-8")
    second = services.apply(agency, "ours")
    assert second.version.version == 2
    assert services.profile_of(second.version).retention_months == 36
    assert services.profile_of(first.version).retention_months == 24   # v1 is unchanged
    assert services.active(agency)[0] == second.version


def test_a_comment_only_edit_is_not_a_new_version(make_agency, agency_dir):
    agency = make_agency("lushan-2019").agency
    path = services.new("ours", "lushan-2019")
    services.apply(agency, "ours")
    path.write_text("# reviewed by the legal department\n" + path.read_text(encoding="utf-8"),
                    encoding="utf-8")
    assert services.apply(agency, "ours").version.version == 1


def test_apply_is_audited_with_version_and_previous(make_agency):
    agency = make_agency("lushan-2019").agency
    services.apply(agency, "full-process-b", actor="system:test")
    entry = AuditEntry.objects.filter(action="profile.apply").latest("id")
    assert entry.details["profile"] == "full-process-b"
    assert entry.details["version"] == 1
    assert entry.details["previous"] == "lushan-2019 v1"


def test_activity_is_judged_under_the_version_in_force_when_it_happened(make_agency,
                                                                        agency_dir):
    """ACT-1: v1 of an agency profile lists a type; v2 drops it. An activity before the
    switch may still use it, one after may not."""
    ns = make_agency("lushan-2019")
    agency = ns.agency
    path = services.new("ours", "lushan-2019")
    services.apply(agency, "ours", effective_from=timezone.now() - timedelta(days=30))
    text = path.read_text(encoding="utf-8")
    hearing = '[[activity_types]]\ncode = "hearing"\nname = "举行听证"\nmust_record = true\n\n'
    assert hearing in text
    path.write_text(text.replace(hearing, ""), encoding="utf-8")
    switch = timezone.now() - timedelta(days=10)
    services.apply(agency, "ours", effective_from=switch)
    before, after = switch - timedelta(days=1), switch + timedelta(days=1)
    assert "hearing" in [t.code for t in activities.activity_types_for(agency, before)]
    assert "hearing" not in [t.code for t in activities.activity_types_for(agency, after)]
    officer = ns.people["officer"]
    common = {"unit": ns.field, "place": "听证室", "officers": [officer], "recorder": officer}
    kept = activities.create_activity(agency, activity_type="hearing", arrived_at=before,
                                      departed_at=before + timedelta(hours=2), **common)
    assert kept.pk
    with pytest.raises(WitnessError) as err:
        activities.create_activity(agency, activity_type="hearing", arrived_at=after,
                                   departed_at=after + timedelta(hours=2), **common)
    assert err.value.code == "bad_activity_type" and "ours v2" in err.value.en
    versions = [a.version.version for a in ProfileActivation.objects.filter(
        agency=agency, version__name="ours").order_by("effective_from")]
    assert versions == [1, 2]


def test_new_refuses_a_taken_or_bad_name(agency_dir):
    with pytest.raises(WitnessError) as err:
        services.new("lushan-2019", "full-process-b")
    assert err.value.code == "exists"
    with pytest.raises(WitnessError) as err:
        services.new("Our Bureau", "full-process-b")
    assert err.value.code == "bad_name"
    with pytest.raises(WitnessError) as err:
        services.new("ours", "no-such-base")
    assert err.value.code == "not_found"
    assert list(agency_dir.iterdir()) == []


def _base_without_spaces(agency_dir, name: str, name_line: str):
    """An agency profile ``name`` whose name line is written as ``name_line``."""
    shipped = (services.BUILTIN_DIR / "lushan-2019.toml").read_text(encoding="utf-8")
    assert 'name = "lushan-2019"\n' in shipped
    path = agency_dir / f"{name}.toml"
    path.write_text(shipped.replace('name = "lushan-2019"', name_line, 1), encoding="utf-8")
    services.read_file(path)  # a valid profile as written
    return path


def test_new_renames_a_base_written_without_spaces(agency_dir):
    _base_without_spaces(agency_dir, "x", 'name="x"')
    path = services.new("y", "x")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Based on x.") and '\nname = "y"\n' in text
    assert 'name="x"' not in text
    assert '[[activity_types]]\ncode = "on_site_enforcement"\nname = "现场执法"' in text
    profile, _data = services.read_file(path)
    assert profile.name == "y"
    assert sorted(p.name for p in agency_dir.iterdir()) == ["x.toml", "y.toml"]


def test_a_failed_copy_leaves_nothing_and_a_retry_works(agency_dir):
    """The copy is validated before it is put in place: no broken file is left, and the
    retry is not refused as 'already exists'."""
    base = _base_without_spaces(agency_dir, "z", '"name" = "z"')   # a quoted key
    with pytest.raises(WitnessError) as err:
        services.new("w", "z")
    assert err.value.code == "profile_invalid" and "w.toml" in err.value.en
    assert sorted(p.name for p in agency_dir.iterdir()) == ["z.toml"]
    base.write_text(base.read_text(encoding="utf-8").replace('"name" = "z"', "name = 'z'"),
                    encoding="utf-8")
    assert services.read_file(services.new("w", "z"))[0].name == "w"


def test_placing_a_copy_never_overwrites_an_existing_file(agency_dir):
    target = agency_dir / "ours.toml"
    target.write_text("# someone's work\n", encoding="utf-8")
    draft = agency_dir / "draft.toml"
    draft.write_text('name = "ours"\n', encoding="utf-8")
    with pytest.raises(WitnessError) as err:
        services._place(draft, target, "ours")
    assert err.value.code == "exists"
    assert target.read_text(encoding="utf-8") == "# someone's work\n"


def test_apply_before_the_activation_in_force_is_refused(make_agency):
    """ACT-1: back-dating behind the profile in force would silently change the rules past
    activities were judged under."""
    agency = make_agency("lushan-2019").agency
    now = timezone.now()
    services.apply(agency, "full-process-b", effective_from=now - timedelta(days=30))
    count = ProfileActivation.objects.count()
    with pytest.raises(WitnessError) as err:
        services.apply(agency, "lushan-2019", effective_from=now - timedelta(days=31))
    assert err.value.code == "before_current_profile"
    assert "full-process-b v1" in err.value.en
    assert ProfileActivation.objects.count() == count
    assert AuditEntry.objects.filter(action="profile.apply").count() == count
    assert services.version_in_force(agency, now - timedelta(days=31)).name == "lushan-2019"
    # From the activation in force on, later dates are fine.
    later = services.apply(agency, "lushan-2019", effective_from=now - timedelta(days=29))
    assert services.active(agency)[0] == later.version


def test_a_scheduled_activation_is_allowed_and_does_not_block_one_now(make_agency):
    agency = make_agency("lushan-2019").agency
    soon = timezone.now() + timedelta(days=7)
    scheduled = services.apply(agency, "full-process-b", effective_from=soon)
    assert services.active(agency)[0].name == "lushan-2019"
    assert services.version_in_force(agency, soon) == scheduled.version
    now = services.apply(agency, "full-process-b")   # acting before the scheduled change
    assert services.active(agency)[0] == now.version
    with pytest.raises(WitnessError) as err:
        services.apply(agency, "lushan-2019", effective_from=now.effective_from
                       - timedelta(minutes=1))
    assert err.value.code == "before_current_profile"


def test_the_first_activation_may_be_back_dated(db):
    from witness.testing import factories as f

    agency = f.AgencyFactory()
    long_ago = timezone.now() - timedelta(days=3000)
    first = services.apply(agency, "lushan-2019", effective_from=long_ago)
    assert services.version_in_force(agency, long_ago) == first.version
