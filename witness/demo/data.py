"""The demo agency: a county market-supervision bureau under regulation A (lushan-2019).

Deterministic: the same names, devices and a week of activities every time (the random
generator is seeded), placed relative to today so the pages always show "this week".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from witness.audit import services as audit
from witness.org.models import Agency, Role, Unit
from witness.org.services import create_person

AGENCY_CODE = "demo-lushan"
AGENCY_NAME = "鲁山县市场监督管理局（演示）"
PROFILE = "lushan-2019"
PASSWORD = "Witness-demo-2026"  # noqa: S105 - the demo logins are printed; demo data only

UNITS = [
    # code, name, field duty
    ("zhifa", "综合执法大队", True),
    ("office", "办公室", False),
]

# username, name, badge, unit code, roles
PEOPLE = [
    ("officer1", "王建国", "41042319001", "zhifa", [Role.OFFICER]),
    ("officer2", "李明", "41042319002", "zhifa", [Role.OFFICER]),
    ("officer3", "赵强", "41042319003", "zhifa", [Role.OFFICER]),
    ("officer4", "钱丽", "41042319004", "zhifa", [Role.OFFICER]),
    ("unithead", "刘伟", "41042319010", "zhifa", [Role.UNIT_HEAD, Role.OFFICER]),
    ("custodian", "陈芳", None, "office", [Role.CUSTODIAN]),
    ("leader", "孙志刚", "41042319020", "office", [Role.LEADER]),
    ("legal", "周敏", "41042319030", "office", [Role.LEGAL]),
    ("sysadmin", "吴磊", None, "office", [Role.SYSADMIN]),
    ("secadmin", "郑洁", None, "office", [Role.SECADMIN]),
    ("auditadmin", "冯涛", None, "office", [Role.AUDITADMIN]),
]

# kind, serial, model, manufacturer, unit code
DEVICES = [
    ("body_camera", "DSJ-LS-0001", "DSJ-V9", "深圳警翼", "zhifa"),
    ("body_camera", "DSJ-LS-0002", "DSJ-V9", "深圳警翼", "zhifa"),
    ("body_camera", "DSJ-LS-0003", "DSJ-V9", "深圳警翼", "zhifa"),
    ("body_camera", "DSJ-LS-0004", "DSJ-A8", "海康威视", "zhifa"),
    ("camera", "CAM-LS-0001", "EOS R50", "佳能", "zhifa"),
    ("recorder", "REC-LS-0001", "SR-X9", "索尼", "office"),
]

CASES = [
    ("鲁市监立〔2026〕31号", "某商行销售过期食品案", "30y"),
    ("鲁市监立〔2026〕32号", "某药店未按规定储存药品案", "30y"),
]

PLACES = ["鲁山县人民路18号某商行", "鲁山县花园路某超市", "鲁山县琴台街道某药店",
          "鲁山县向阳路某餐馆", "鲁山县建设路农贸市场", "鲁山县汇源街某加油站"]
PARTIES = ["鲁山县某商行", "鲁山县某超市有限公司", "鲁山县某大药房", "鲁山县某餐馆",
           "个体工商户李某", "鲁山县某石化销售站"]


@dataclass
class DemoResult:
    created: bool
    agency: Agency
    logins: list[tuple[str, str, str]]  # username, name, roles


def logins() -> list[tuple[str, str, str]]:
    return [(u, n, "、".join(str(r.label) for r in roles)) for u, n, _b, _c, roles in PEOPLE]


def _local(day, hour, minute) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@transaction.atomic
def build(now: datetime | None = None) -> DemoResult:
    """Create the demo agency unless it exists (idempotent)."""
    from witness.activities import services as activities
    from witness.devices import services as devices
    from witness.profiles import services as profiles

    existing = Agency.objects.filter(code=AGENCY_CODE).first()
    if existing:
        return DemoResult(False, existing, logins())

    actor = "system:demo"
    now = now or timezone.now()
    rng = random.Random(20190930)  # noqa: S311 - reproducible demo data, not security
    agency = Agency.objects.create(name=AGENCY_NAME, code=AGENCY_CODE)
    audit.append(actor, "agency.create", agency, details={"name": agency.name,
                                                          "code": agency.code})
    profiles.apply(agency, PROFILE, effective_from=_local(datetime(2019, 9, 30).date(), 0, 0),
                   actor=actor)
    units = {code: Unit.objects.create(agency=agency, code=code, name=name, has_field_duty=duty)
             for code, name, duty in UNITS}
    for unit in units.values():
        audit.append(actor, "unit.create", unit, details={
            "name": unit.name, "code": unit.code, "has_field_duty": unit.has_field_duty})
    since = now - timedelta(days=400)
    users = get_user_model()
    password = make_password(PASSWORD)  # hashed once: Argon2 is slow on purpose
    people = {}
    for username, name, badge, unit_code, roles in PEOPLE:
        user = users.objects.filter(username=username).first()
        created = user is None
        if created:
            user = users(username=username)
        user.password = password
        user.save()
        audit.append(actor, "user.create" if created else "user.password", user,
                     details={"username": username, "usable_password": True})
        people[username] = create_person(agency, name, units[unit_code], badge_number=badge,
                                         roles=tuple(roles), user=user, effective_from=since,
                                         actor=actor)
    agency.principal_leader = people["leader"]
    agency.save(update_fields=["principal_leader"])
    audit.append(actor, "agency.update", agency, details={
        "before": {"principal_leader": None},
        "after": {"principal_leader": people["leader"].pk}})

    devs = [devices.register_device(kind=kind, serial=serial, model=model,
                                    manufacturer=maker, unit=units[unit_code],
                                    custodian=people["custodian"], actor=actor)
            for kind, serial, model, maker, unit_code in DEVICES]
    cameras = [d for d in devs if d.kind == "body_camera"]

    cases = [activities.create_case(agency, number=number, name=name,
                                    leader_in_charge=people["leader"], retention_class=rc,
                                    opened_at=now - timedelta(days=20), actor=actor)
             for number, name, rc in CASES]

    _, profile = profiles.in_force(agency, now)
    types = [t.code for t in profile.activity_types]
    officers = [people[u] for u in ("officer1", "officer2", "officer3", "officer4", "unithead")]
    today = timezone.localdate(now)
    # Every random draw happens first, so the data is the same whatever the hour of the run;
    # only what lies in the future is left out.
    plan = []
    for back in range(6, -1, -1):
        day = today - timedelta(days=back)
        for slot in range(1 + (back % 2)):
            arrive = _local(day, 9 + slot * 5, rng.choice([0, 10, 20, 30, 40]))
            plan.append({
                "back": back, "slot": slot, "arrive": arrive,
                "depart": arrive + timedelta(minutes=rng.choice([35, 50, 65, 80])),
                "pair": rng.sample(officers, 2), "battery": rng.randint(70, 100),
                "free_mb": rng.randint(8000, 30000), "drift": rng.randint(-20, 20),
                "place": rng.randrange(len(PLACES)), "violation": rng.random() >= 0.6,
            })
    for item in plan:
        back, slot, arrive, depart = item["back"], item["slot"], item["arrive"], item["depart"]
        if depart > now:  # an activity still to come today
            continue
        holder = item["pair"][0]
        camera = cameras[(back + slot) % len(cameras)]
        issue_at = arrive - timedelta(minutes=30)
        devices.issue_device(
            camera, holder, at=issue_at, purpose="现场执法检查", actor=actor,
            check={"checked_by": holder, "battery_percent": item["battery"],
                   "free_storage_mb": item["free_mb"],
                   "device_time": issue_at + timedelta(seconds=item["drift"])})
        activities.create_activity(
            agency, unit=units["zhifa"], activity_type=types[(back + slot) % len(types)],
            place=PLACES[item["place"]], arrived_at=arrive, departed_at=depart,
            officers=item["pair"], recorder=holder,
            case=cases[back % 2] if slot == 0 and back < 4 else None,
            party=PARTIES[item["place"]], scene="经营场所，营业中", party_conduct="配合检查",
            violations_found="部分商品超过保质期" if item["violation"] else "",
            evidence_items=["货架商品标签", "进货票据"], actor=actor)
        returned = depart + timedelta(minutes=40)
        if back > 0 and returned <= now:  # today's camera is still with its officer
            devices.return_device(camera, at=returned, actor=actor)
    return DemoResult(True, agency, logins())
