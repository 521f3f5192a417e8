"""`witness case …` and `witness activity …` (ACT-1, ACT-2, ING-2 flags, RET-1), driven
through call_command with --json output parsed."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from witness.activities import services
from witness.activities.management.commands import activity as activity_cmd
from witness.activities.management.commands import case as case_cmd
from witness.activities.models import Activity, Case
from witness.audit.models import AuditEntry
from witness.core.commands import BilingualCommandError
from witness.profiles import services as profiles


def run(*args) -> object:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def text(*args) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command(*args, stdout=out)
    return out.getvalue()


def fails(*args) -> BilingualCommandError:
    with pytest.raises(BilingualCommandError) as err:
        call_command(*args, stdout=StringIO())
    return err.value


def iso(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def w(a_world):
    return a_world


def _add_args(w, *extra):
    o1, o2 = w.officers[0], w.officers[1]
    return ("activity", "add", "--type", "investigation", "--unit", w.field.code,
            "--place", "鲁山县人民路3号", "--arrived", iso(w.arrived),
            "--departed", iso(w.departed), "--officer", o1.badge_number, "--officer", o2.name,
            "--recorder", o1.name, *extra)


def test_case_add_list_show_close(w):
    data = run("case", "add", "--number", "鲁市监立〔2026〕5号", "--name", "某超市案",
               "--leader", w.leader.badge_number, "--retention", "permanent")
    assert (data["number"], data["status"], data["retention_class"]) == (
        "鲁市监立〔2026〕5号", "open", "permanent")
    assert Case.objects.get(number="鲁市监立〔2026〕5号").leader_in_charge == w.leader
    assert [c["number"] for c in run("case", "list")] == ["鲁市监立〔2026〕5号"]
    assert run("case", "list", "--status", "closed") == []
    shown = run("case", "show", "鲁市监立〔2026〕5号")
    assert shown["activities"] == [] and shown["leader_in_charge"].startswith(w.leader.name)
    closed = run("case", "close", "鲁市监立〔2026〕5号")
    assert closed["status"] == "closed" and closed["closed_at"]
    assert AuditEntry.objects.filter(action="case.close").count() == 1
    listing = text("case", "list")
    assert "closed" in listing and timezone.localdate().isoformat() in listing


def test_case_add_refuses_a_leader_without_the_role_bilingually(w):
    err = fails("case", "add", "--number", "X-1", "--name", "某案", "--leader",
                w.officers[0].badge_number)
    assert err.error.code == "not_leader"
    assert err.returncode == 1
    assert not Case.objects.exists()


def test_case_add_refuses_a_duplicate_number(w):
    run("case", "add", "--number", "X-1", "--name", "某案", "--leader", w.leader.name)
    err = fails("case", "add", "--number", "X-1", "--name", "另案", "--leader", w.leader.name)
    assert err.error.code == "duplicate_case"


def test_activity_add_stores_every_act_2_field(w):
    services.create_case(w.agency, number="X-2", name="某案", leader_in_charge=w.leader)
    w.arrived, w.departed = w.arrived - timedelta(days=2), w.departed - timedelta(days=2)
    back = w.departed + timedelta(hours=20)
    data = run(*_add_args(w, "--case", "X-2", "--party", "某某超市", "--scene", "营业中",
                          "--conduct", "拒绝签字", "--violations", "无证经营",
                          "--evidence", "营业执照", "--evidence", "进货台账", "--off-site",
                          "--returned", iso(back)))
    activity = Activity.objects.get(pk=data["id"])
    assert (activity.activity_type, activity.case.number, activity.place) == (
        "investigation", "X-2", "鲁山县人民路3号")
    assert timezone.localtime(activity.arrived_at).strftime("%Y-%m-%dT%H:%M") == iso(w.arrived)
    assert (activity.party, activity.scene, activity.party_conduct,
            activity.violations_found) == ("某某超市", "营业中", "拒绝签字", "无证经营")
    assert services.evidence_of(activity) == ["营业执照", "进货台账"]
    assert services.recorder_of(activity) == w.officers[0]
    assert activity.off_site and not activity.remote
    assert iso(activity.returned_to_unit_at) == iso(back)
    assert data["activity_type_name"] == "调查取证"
    assert [(o["name"], o["recorder"]) for o in data["officers"]] == [
        (w.officers[0].name, True), (w.officers[1].name, False)]
    assert data["warnings"] == []


def test_activity_add_refuses_a_type_outside_the_profile_act_1(w):
    err = fails(*_add_args(w)[:3], "routine_inspection", *_add_args(w)[4:])
    assert err.error.code == "bad_activity_type"
    assert not Activity.objects.exists()


def test_activity_add_refuses_bad_time_and_unknown_people(w):
    args = list(_add_args(w))
    args[args.index("--arrived") + 1] = "yesterday"
    assert fails(*args).error.code == "bad_datetime"
    args = list(_add_args(w))
    args[args.index("--recorder") + 1] = "无此人"
    assert fails(*args).error.code == "unknown_person"
    args = list(_add_args(w))
    args[args.index("--recorder") + 1] = w.officers[2].badge_number
    assert fails(*args).error.code == "recorder_not_officer"


def test_activity_add_warns_when_b_asks_for_more_officers(b_world):
    w = b_world
    data = run("activity", "add", "--type", "routine_inspection", "--unit", w.field.name,
               "--place", "某街道", "--arrived", iso(w.arrived), "--departed", iso(w.departed),
               "--officer", w.officers[0].badge_number, "--recorder",
               w.officers[0].badge_number)
    assert Activity.objects.filter(pk=data["id"]).exists()
    assert len(data["warnings"]) == 1
    assert "B12" in data["warnings"][0]["en"]


def test_activity_list_filters(w):
    first = run(*_add_args(w))
    old = w.arrived - timedelta(days=3)
    args = list(_add_args(w))
    args[args.index("--arrived") + 1] = iso(old)
    args[args.index("--departed") + 1] = iso(old + timedelta(hours=1))
    args[args.index("--unit") + 1] = w.field2.code
    args[args.index("--type") + 1] = "hearing"
    second = run(*args)
    assert [a["id"] for a in run("activity", "list")] == [first["id"], second["id"]]
    assert [a["id"] for a in run("activity", "list", "--unit", w.field2.code)] == [second["id"]]
    assert [a["id"] for a in run("activity", "list", "--type", "hearing")] == [second["id"]]
    since = iso(w.arrived - timedelta(days=1))
    assert [a["id"] for a in run("activity", "list", "--from", since)] == [first["id"]]
    assert [a["id"] for a in run("activity", "list", "--to", since)] == [second["id"]]
    assert len(run("activity", "list", "--limit", "1")) == 1
    assert iso(w.arrived).replace("T", " ") in text("activity", "list")


def test_activity_show_and_update_are_audited(w):
    created = run(*_add_args(w))
    pk = str(created["id"])
    shown = run("activity", "show", pk)
    assert shown["place"] == "鲁山县人民路3号"
    updated = run("activity", "update", pk, "--place", "鲁山县向阳路9号", "--officer",
                  w.officers[1].name, "--officer", w.officers[2].name, "--recorder",
                  w.officers[2].name, "--remote", "--returned",
                  iso(w.departed + timedelta(hours=2)), "--evidence", "现场照片")
    assert updated["place"] == "鲁山县向阳路9号" and updated["remote"]
    assert [o["name"] for o in updated["officers"] if o["recorder"]] == [w.officers[2].name]
    assert updated["evidence_items"] == ["现场照片"]
    entry = AuditEntry.objects.get(action="activity.update", object_id=pk)
    assert entry.details["before"]["place"] == "鲁山县人民路3号"
    assert entry.details["after"]["remote"] is True
    cleared = run("activity", "update", pk, "--no-remote", "--no-returned", "--no-evidence")
    assert (cleared["remote"], cleared["returned_to_unit_at"], cleared["evidence_items"]) == (
        False, None, [])
    assert "鲁山县向阳路9号" in text("activity", "show", pk)


def test_activity_update_refuses_an_unknown_activity(w):
    assert fails("activity", "update", "999999", "--place", "x").error.code == "not_found"
    assert fails("activity", "show", "abc").error.code == "not_found"


def test_activity_types_follow_the_profile_in_force_act_1(w):
    switch = timezone.now() - timedelta(days=2)
    profiles.apply(w.agency, "full-process-b", effective_from=switch)
    before = run("activity", "types", "--at", iso(switch - timedelta(days=1)))
    now = run("activity", "types")
    assert (before["profile"], before["source"]) == ("lushan-2019", "A6")
    assert len(before["types"]) == 5
    assert (now["profile"], now["source"]) == ("full-process-b", "B6")
    assert [t["code"] for t in now["types"]] == [
        "routine_inspection", "complaint_handling", "document_service", "other_on_site"]
    assert "日常执法检查" in text("activity", "types")


@pytest.mark.parametrize("module,name", [(activity_cmd, "activity"), (case_cmd, "case")])
def test_every_subcommand_has_help(module, name):
    command = module.Command()
    with translation.override("en"):
        parser = command.create_parser("witness", name)
        assert parser.description == command.help and command.help
        sub = next(a for a in parser._actions if a.dest == "subcommand")
        for subname, child in sub.choices.items():
            assert child.description == command.subcommands[subname]
            assert child.description
            assert "--json" in child.format_help()


def zh(*args) -> str:
    out = StringIO()
    with translation.override("zh-hans"):
        call_command(*args, stdout=out)
    return out.getvalue()


def test_activity_and_case_show_speak_chinese_under_zh_hans(w):
    """Every label of `activity show` and `case show` comes from the zh-hans catalogue."""
    services.create_case(w.agency, number="X-3", name="某案", leader_in_charge=w.leader)
    services.close_case(services.get_case(w.agency, "X-3"))
    w.arrived, w.departed = w.arrived - timedelta(days=2), w.departed - timedelta(days=2)
    created = run(*_add_args(w, "--case", "X-3", "--party", "某某超市", "--evidence", "营业执照",
                             "--off-site", "--returned", iso(w.departed + timedelta(hours=20))))
    shown = zh("activity", "show", str(created["id"]))
    for label in ("部门：", "地点：", "到达现场：", "离开现场：", "执法人员（*为指定记录人）：",
                  "案件：X-3", "当事人：某某超市", "现场情况：-", "当事人表现：-",
                  "发现的违法行为：-", "关键证据：营业执照", "执法情形：异地执法",
                  "返回单位时间："):
        assert label in shown, label
    for english in ("Departure", "Party", "Scene", "Key evidence", "Duty", "Returned"):
        assert english not in shown
    case = zh("case", "show", "X-3")
    for label in ("分管领导：", "状态：", "保存期限：", "立案时间：", "结案时间：", "执法活动："):
        assert label in case, label
    assert "Closed" not in case and "Leader in charge" not in case
    assert "Departure: " in text("activity", "show", str(created["id"]))
    assert "Closed: " in text("case", "show", "X-3")


def test_activity_add_and_case_add_refuse_future_times(w):
    args = list(_add_args(w))
    args[args.index("--arrived") + 1] = "2099-01-01T09:00"
    args[args.index("--departed") + 1] = "2099-01-01T10:00"
    err = fails(*args)
    assert err.error.code == "time_in_future" and "2099-01-01 09:00" in err.error.en
    err = fails(*_add_args(w, "--off-site", "--returned", "2099-01-01T09:00"))
    assert err.error.code == "time_in_future"
    assert not Activity.objects.exists()
    err = fails("case", "add", "--number", "X-4", "--name", "某案", "--leader", w.leader.name,
                "--opened", "2099-01-01T09:00")
    assert err.error.code == "time_in_future"
    assert not Case.objects.exists()


def _queries(*args) -> int:
    with CaptureQueriesContext(connection) as queries:
        run(*args)
    return len(queries)


def test_activity_list_and_case_commands_do_not_query_per_row(w):
    """`activity list`, `case list` and `case show` take as many queries for 20 rows as
    for 2 (no query per activity or case)."""

    def add(count: int, start: int) -> None:
        for i in range(start, start + count):
            case = services.create_case(w.agency, number=f"Q-{i}", name="某案",
                                        leader_in_charge=w.leader)
            at = w.arrived - timedelta(hours=i)
            for _ in range(2):
                services.create_activity(
                    w.agency, unit=w.field, activity_type="investigation", place="某地",
                    arrived_at=at, departed_at=at + timedelta(minutes=30), case=case,
                    officers=w.officers[:2], recorder=w.officers[1], evidence_items=["照片"])
            services.create_activity(
                w.agency, unit=w.field, activity_type="hearing", place="听证室",
                arrived_at=at, departed_at=at + timedelta(minutes=30), case=cases[0] if
                cases else case, officers=w.officers[:1], recorder=w.officers[0])
            cases.append(case)

    cases = []
    add(1, 0)
    small = [_queries("activity", "list"), _queries("case", "list"),
             _queries("case", "show", "Q-0")]
    add(10, 1)
    assert len(run("activity", "list")) == 33
    assert len(run("case", "show", "Q-0")["activities"]) == 13
    assert [_queries("activity", "list"), _queries("case", "list"),
            _queries("case", "show", "Q-0")] == small
