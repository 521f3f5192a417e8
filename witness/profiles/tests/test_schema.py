"""A broken profile is refused with an error naming the field, never a crash or a silent
default (profiles are data, not code: ACT-1, RET-1, ING-2, DEV-2, DEV-3 all read them)."""

import re
import tomllib

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from witness.core.errors import NotFound
from witness.profiles import services
from witness.profiles.schema import FIELDS, ProfileError, parse

BASE_TEXT = (services.BUILTIN_DIR / "full-process-b.toml").read_text(encoding="utf-8")
INT_FIELDS = [path for path, (kind, _extra) in FIELDS.items() if kind == "int"]


def _write(folder, name: str, text: str):
    path = folder / f"{name}.toml"
    path.write_text(text.replace('name = "full-process-b"', f'name = "{name}"'),
                    encoding="utf-8")
    return path


def _error_of(path) -> str:
    with pytest.raises(ProfileError) as err:
        services.read_file(path)
    return err.value.en


def _base_data() -> dict:
    return tomllib.loads(BASE_TEXT)


def test_missing_field_is_named(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT.replace("min_officers = 2", ""))
    assert "field recording.min_officers is missing" in _error_of(path)


def test_wrong_type_is_named(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT.replace("months = 12", 'months = "12"'))
    assert "field retention.months must be a whole number" in _error_of(path)


def test_number_below_minimum_is_named(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT.replace("months = 12", "months = 0"))
    assert "field retention.months must be at least 1" in _error_of(path)


def test_unknown_field_typo_is_named(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT.replace("min_officers = 2", "min_oficers = 2"))
    assert "field recording.min_oficers is not a known field" in _error_of(path)


def test_unknown_section_is_named(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT + "\n[retension]\nmonths = 3\n")
    assert "field retension is not a known field" in _error_of(path)


def test_bad_choice_is_named_with_the_choices(tmp_path):
    path = _write(tmp_path, "broken",
                  BASE_TEXT.replace('issue_scope = "unit"', 'issue_scope = "province"'))
    message = _error_of(path)
    assert "field devices.issue_scope must be one of: agency, unit" in message


def test_bad_list_value_is_named(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT.replace(
        'exception_flags = ["off_site", "remote", "continuous"]',
        'exception_flags = ["off_site", "abroad"]'))
    assert "field upload.exception_flags has unknown values abroad" in _error_of(path)


def test_broken_toml_syntax_names_the_file(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT.replace("months = 12", "months = = 12"))
    message = _error_of(path)
    assert "broken.toml is not valid TOML" in message and "line" in message


def test_a_file_saved_as_gbk_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_bytes(BASE_TEXT.replace('name = "full-process-b"', 'name = "broken"')
                     .encode("gbk"))
    assert "broken.toml is not UTF-8 text" in _error_of(path)


def test_missing_source_citation_is_named(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT.replace('"recording.min_officers" = "B12"\n', ""))
    assert "field sources.recording.min_officers must cite the article" in _error_of(path)


def test_empty_source_citation_is_named(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT.replace('activity_types = "B6"',
                                                        'activity_types = " "'))
    assert "field sources.activity_types must cite the article" in _error_of(path)


def test_bad_activity_type_is_named(tmp_path):
    path = _write(tmp_path, "broken", BASE_TEXT.replace('code = "complaint_handling"',
                                                        'code = "routine_inspection"'))
    assert "field activity_types[2].code repeats the code routine_inspection" in _error_of(path)
    path = _write(tmp_path, "broken2", BASE_TEXT.replace('name = "日常执法检查"\n', ""))
    assert "field activity_types[1].name must be a non-empty text" in _error_of(path)


def test_name_must_match_the_file(tmp_path):
    path = tmp_path / "other.toml"
    path.write_text(BASE_TEXT, encoding="utf-8")
    assert "field name must match the file name (other)" in _error_of(path)


def test_a_broken_agency_profile_is_refused_by_load(settings, tmp_path):
    """The agency's own folder (WITNESS_PROFILE_DIR) goes through the same checks."""
    settings.WITNESS_PROFILE_DIR = tmp_path
    _write(tmp_path, "ours", BASE_TEXT.replace("exception_hours = 24", "exception_hours = 1.5"))
    assert "ours" in services.available()
    with pytest.raises(ProfileError) as err:
        services.load("ours")
    assert "field upload.exception_hours must be a whole number" in err.value.en
    assert err.value.code == "profile_invalid"


def test_unknown_profile_name_lists_the_available_ones(settings, tmp_path):
    settings.WITNESS_PROFILE_DIR = tmp_path
    with pytest.raises(NotFound) as err:
        services.load("nope")
    assert "lushan-2019" in err.value.en and "full-process-b" in err.value.en


NOT_INTEGERS = st.one_of(
    st.text(max_size=5), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                          max_size=2))


@hsettings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(INT_FIELDS), value=NOT_INTEGERS)
def test_any_non_integer_for_an_integer_field_is_named(field, value):
    data = _base_data()
    section, key = field.split(".")
    data[section][key] = value
    with pytest.raises(ProfileError) as err:
        parse(data, "prop.toml")
    assert f"field {field} " in err.value.en


@hsettings(max_examples=200)
@given(field=st.sampled_from(INT_FIELDS), value=st.integers(max_value=-1))
def test_any_negative_integer_is_named(field, value):
    data = _base_data()
    section, key = field.split(".")
    data[section][key] = value
    with pytest.raises(ProfileError) as err:
        parse(data, "prop.toml")
    assert re.search(rf"field {re.escape(field)} must be at least \d", err.value.en)


TOML_VALUES = st.recursive(
    st.one_of(st.text(max_size=8), st.integers(), st.floats(allow_nan=False), st.booleans()),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
ALL_PATHS = ["name", "title", "regulation", "activity_types", "sources", *FIELDS,
             "sources.activity_types"]


@hsettings(max_examples=300)
@given(path=st.sampled_from(ALL_PATHS), value=TOML_VALUES)
def test_any_value_anywhere_parses_or_raises_profile_error(path, value):
    """Whatever a field holds, the parser answers with a Profile or a ProfileError naming a
    field; no other exception escapes."""
    data = _base_data()
    if "." in path:
        section, key = path.split(".")
        data[section][key] = value
    else:
        data[path] = value
    try:
        parse(data, "prop.toml")
    except ProfileError as exc:
        assert "prop.toml: field " in exc.en


def test_issue6_a_profile_written_before_the_compliance_section_reads_with_its_defaults():
    """A stored version (an immutable snapshot) or an agency's older file has no
    [compliance] section: it reads with the documented defaults, cited as Witness's own."""
    from witness.profiles.schema import DEFAULT_SOURCE, OPTIONAL
    data = _base_data()
    del data["compliance"]
    del data["retention"]["purge_approver"]  # issue 7: optional too
    for path in OPTIONAL:
        del data["sources"][path]
    profile = parse(data, "old.toml")
    assert profile.purge_approver == "principal_leader"
    assert profile.gap_tolerance_seconds == OPTIONAL["compliance.gap_tolerance_seconds"]
    assert profile.coverage_tolerance_seconds == 60 and profile.evidence_photos is True
    assert profile.sources["compliance.gap_tolerance_seconds"] == DEFAULT_SOURCE


def test_issue6_a_present_compliance_field_still_needs_its_citation(tmp_path):
    data = _base_data()
    del data["sources"]["compliance.gap_tolerance_seconds"]
    with pytest.raises(ProfileError) as err:
        parse(data, "x.toml")
    assert "sources.compliance.gap_tolerance_seconds" in err.value.en
