"""Both shipped profiles load and carry their regulation's values (ACT-1, RET-1, ING-2,
DEV-2, DEV-3, ACT-4, EVD-2, ACT-2)."""

import pytest

from witness.profiles import services
from witness.profiles.schema import FIELDS


def test_both_profiles_ship():
    assert {"lushan-2019", "full-process-b"} <= set(services.available())
    assert services.available()["lushan-2019"].parent == services.BUILTIN_DIR


def test_regulation_a_values():
    a, _data, _path = services.load("lushan-2019")
    assert a.regulation == "A"
    assert a.retention_months == 24                          # RET-1 (A15)
    assert a.issue_scope == "agency"                         # DEV-3 (A4, A18(3))
    assert a.work_record_review == "principal_leader"        # ACT-4 (A12)
    assert [t.name for t in a.activity_types] == [           # ACT-1 (A6)
        "现场执法", "调查取证", "举行听证", "留置送达", "公告送达"]
    assert all(t.must_record for t in a.activity_types)
    assert (a.upload_exception_hours, a.upload_exception_flags) == (
        24, ("off_site", "remote", "continuous"))           # ING-2 (A13)
    assert a.notification_phrase == ("为保护您的合法权益，监督我们的执法行为，"
                                     "本次执法全程录音录像。")  # ACT-3 (A9)


def test_regulation_b_values():
    b, _data, _path = services.load("full-process-b")
    assert b.regulation == "B"
    assert b.retention_months == 12 and b.retention_case_bound   # RET-1 (B21)
    assert b.issue_scope == "unit"                               # DEV-3 (B8-B10)
    assert b.min_officers == 2                                   # ACT-2 (B12)
    assert b.upload_normal == "same_day"                         # ING-2 (B20)
    assert b.min_devices_per_field_unit == 2                     # DEV-2 (B5)
    assert b.viewing_chain == ("unit_head_review", "leader_approval",
                               "custodian_registration")         # EVD-2 (B23)
    assert [t.name for t in b.activity_types] == [               # ACT-1 (B6)
        "日常执法检查", "处置投诉举报", "证据、执法文书送达", "其他现场执法办案"]


@pytest.mark.parametrize("name,prefix", [("lushan-2019", "A"), ("full-process-b", "B")])
def test_every_field_cites_its_own_regulation(name, prefix):
    profile, _data, _path = services.load(name)
    for field in ("activity_types", *FIELDS):
        assert profile.sources[field].startswith(prefix), field
