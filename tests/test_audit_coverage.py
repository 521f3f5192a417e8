"""Issue 4 item 1, "complete coverage": every web view, CLI command and background task that
changes state writes an audit entry, with the right actor, in the transaction of the change.

Three tables hold the scenarios: ``VIEW_SCENARIOS`` (url name), ``CLI_SCENARIOS``
("command subcommand", with ``[variant]`` for another mode of the same command) and
``TASK_SCENARIOS`` (the task's dotted path). Each scenario makes a real, valid change
through the real code and names the actions it must write. Meta-tests compute at test time
what exists — the URL patterns whose views handle POST, every subcommand of every
``witness`` command, every django-tasks task under ``witness/`` — and fail until a new one
is given a scenario or classified (read-only, or no entry by design with the reason).
There is no API: the JSON output of the CLI is the only programmatic interface.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import inspect
import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from importlib import import_module
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command, get_commands, load_command_class
from django.db import connection
from django.db.models import Max
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

import witness
from witness.activities import services as activities
from witness.activities.models import Activity, Case
from witness.audit.models import ActorType, AuditEntry, AuditLeaf, Checkpoint, Outcome
from witness.audit.sequencer import Sequencer, tree_size
from witness.derivatives.models import Derivative, Status
from witness.devices import services as devices
from witness.devices.models import Device, DeviceEvent, DeviceIssue, PreUseCheck, RefusedIssue
from witness.ingest.models import CustomNamePattern, ModelNaming
from witness.ingest.services import ingest_volume
from witness.org.models import Agency, Person, PersonUnitHistory, Unit
from witness.profiles.models import ProfileActivation
from witness.recordings.models import Recording
from witness.station.models import StationVolume, VolumeState
from witness.storage import replica
from witness.storage.config import get_backend
from witness.storage.models import Blob, FixityCheck, Replica
from witness.storage.pipeline import store_file
from witness.storage.tests.test_fixity import flip
from witness.testing import factories as f
from witness.testing.child import child_env
from witness.testing.media import ffmpeg_available, make_wav
from witness.testing.volumes import docked_camera
from witness.web import lockout
from witness.web.access import PAGES
from witness.web.models import LoginLock

PASSWORD = f.PASSWORD
OUTSIDER = "sysadmin"  # an administrator: opens none of the enforcement pages


# -- the audit log, before and after ----------------------------------------------------------


def last_entry_id() -> int:
    return AuditEntry.objects.aggregate(top=Max("id"))["top"] or 0


def entries_since(since: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(id__gt=since).order_by("id"))


def shown(entries) -> list[str]:
    return [f"{e.action}/{e.outcome}/{e.actor_label}" for e in entries]


def assert_entries(since: int, actions, actor: Callable[[AuditEntry], bool], *,
                   outcome: str = Outcome.SUCCESS) -> list[AuditEntry]:
    """Each of ``actions`` has at least one new entry with ``outcome``, and every such entry
    names the right actor."""
    new = entries_since(since)
    for action in actions:
        found = [e for e in new if e.action == action and e.outcome == outcome]
        assert found, f"no {outcome} {action!r} entry; new entries: {shown(new)}"
        wrong = [e for e in found if not actor(e)]
        assert not wrong, f"{action!r} names the wrong actor: {shown(wrong)}"
    return new


def by_user(user) -> Callable[[AuditEntry], bool]:
    return lambda e: e.actor_type == ActorType.USER and e.actor_id == str(user.pk)


def by_label(prefix: str) -> Callable[[AuditEntry], bool]:
    return lambda e: e.actor_label == prefix or e.actor_label.startswith(f"{prefix}:")


class AuditInsertRefused(Exception):
    """Raised instead of writing an audit entry (``audit_inserts_fail``)."""


@contextlib.contextmanager
def audit_inserts_fail():
    """Make every INSERT into the audit table fail, on the real database connection: a
    change that commits with its entry must then not happen at all."""

    def refuse(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and "audit_auditentry" in sql:
            raise AuditInsertRefused(sql[:100])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


# -- shared set-up ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _own_stores(settings, tmp_path):
    """This test's own blob store (no replica unless a scenario adds one) and profile
    folder: `fixity --all` must not meet other tests' objects."""
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    settings.WITNESS_PROFILE_DIR = str(tmp_path / "profiles")


class Ctx:
    """What a scenario gets: the agency (made on first use, so that `demo` starts from an
    empty database), a private folder, and the settings."""

    def __init__(self, site, tmp_path: Path, settings):
        self._site, self.tmp, self.settings = site, tmp_path, settings

    @cached_property
    def ns(self):
        return self._site()

    def person(self, role: str) -> Person:
        return self.ns.people[role]

    def replica_store(self):
        self.settings.WITNESS_REPLICA = f"file://{self.tmp / 'replica'}"


@pytest.fixture
def ctx(site, tmp_path, settings):
    return Ctx(site, tmp_path, settings)


def need_ffmpeg():
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe missing; `make install` installs them")


def local_minute(dt) -> str:
    """A local time as the CLI and the datetime-local inputs take it."""
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def local_second(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M:%S")


def wav_folder(ctx: Ctx, name: str = "volume") -> Path:
    need_ffmpeg()
    folder = ctx.tmp / name
    folder.mkdir()
    make_wav(folder / "REC_0001.WAV", 1)
    return folder


def ingested_recording(ctx: Ctx) -> Recording:
    """A real recording: a WAV stored, verified and registered by the ingest pipeline."""
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-COV-ING")
    run = ingest_volume(wav_folder(ctx, "ingested"), device_serial=device.serial, actor="test")
    return Recording.objects.get(ingest_run=run)


def stored_blob(ctx: Ctx) -> Blob:
    source = ctx.tmp / "original.bin"
    source.write_bytes(os.urandom(4096))
    return store_file(source, get_backend(), actor="test").blob


def issued_device(ctx: Ctx, serial: str = "DSJ-COV-OUT") -> Device:
    device = f.DeviceFactory(unit=ctx.ns.field, serial=serial)
    devices.issue_device(device, ctx.person("officer"), no_check_reason="test", actor="test")
    return device


# == 1. web views ============================================================================


@dataclass
class ViewPost:
    """A valid POST to one view, and what it must change and write."""

    role: str  # who posts (a person of make_agency, with a login)
    data: dict
    actions: tuple[str, ...]  # success entries it must write, naming the user
    changed: Callable  # changed(client) -> whether the change is there
    args: tuple = ()
    headers: dict = field(default_factory=dict)
    logged_in: bool = True  # logged in before the POST (not for the login itself)
    # a POST the view refuses (input errors, wrong password): no change, no success entry;
    # None where every POST is valid
    bad_data: dict | None = field(default_factory=dict)
    bad_outcome: str | None = None  # the entry the refused POST itself must write


def login_view(ctx: Ctx) -> ViewPost:
    user = ctx.person("officer").user
    return ViewPost("officer", {"username": user.username, "password": PASSWORD},
                    ("auth.login",), lambda c: c.session.get("_auth_user_id") == str(user.pk),
                    logged_in=False,
                    bad_data={"username": user.username, "password": "wrong-password"},
                    bad_outcome=Outcome.FAILURE)


def logout_view(ctx: Ctx) -> ViewPost:
    return ViewPost("custodian", {}, ("auth.logout",),
                    lambda c: "_auth_user_id" not in c.session, bad_data=None)


def device_register_view(ctx: Ctx) -> ViewPost:
    custodian = ctx.person("custodian")
    return ViewPost("custodian", {
        "kind": "body_camera", "serial": "DSJ-COV-NEW", "model": "DSJ-V9",
        "manufacturer": "某电子", "unit": ctx.ns.field.pk, "custodian": custodian.pk,
        "records_video": "unknown", "records_audio": "unknown", "takes_photos": "unknown",
        "notes": ""}, ("device.register",),
        lambda c: Device.objects.filter(serial="DSJ-COV-NEW").exists())


def check_fields(**extra) -> dict:
    return {"battery_percent": 90, "free_storage_mb": 4096, "working": "on",
            "device_time": local_second(timezone.now()), **extra}


def device_issue_view(ctx: Ctx) -> ViewPost:
    device = f.DeviceFactory(unit=ctx.ns.field)
    return ViewPost("custodian", {"holder": ctx.person("officer").pk, "purpose": "现场检查",
                                  **check_fields()},
                    ("device.issue", "device.check"),
                    lambda c: DeviceIssue.objects.filter(device=device).exists(),
                    args=(device.pk,))


def device_return_view(ctx: Ctx) -> ViewPost:
    device = issued_device(ctx)
    return ViewPost("custodian", {"notes": "完好"}, ("device.return",),
                    lambda c: DeviceIssue.objects.filter(device=device,
                                                         returned_at__isnull=False).exists(),
                    args=(device.pk,), bad_data=None)


def device_check_view(ctx: Ctx) -> ViewPost:
    device = issued_device(ctx)
    return ViewPost("custodian", check_fields(), ("device.check",),
                    lambda c: PreUseCheck.objects.filter(device=device).exists(),
                    args=(device.pk,))


def device_event_view(ctx: Ctx) -> ViewPost:
    device = f.DeviceFactory(unit=ctx.ns.field)
    return ViewPost("custodian", {
        "kind": "repair", "description": "屏幕碎裂，送厂维修",
        "responsible": ctx.person("officer").pk, "amount_yuan": "350.50",
        "occurred_at": local_minute(timezone.now() - timedelta(hours=1))},
        ("device.event",), lambda c: DeviceEvent.objects.filter(device=device).exists(),
        args=(device.pk,))


def case_create_view(ctx: Ctx) -> ViewPost:
    return ViewPost("unit_head", {"number": "鲁市监立〔2026〕901号", "name": "覆盖测试案",
                                  "leader_in_charge": ctx.person("leader").pk,
                                  "retention_class": "10y"},
                    ("case.create",),
                    lambda c: Case.objects.filter(number="鲁市监立〔2026〕901号").exists())


def activity_create_view(ctx: Ctx) -> ViewPost:
    officer, head = ctx.person("officer"), ctx.person("unit_head")
    arrived = timezone.now() - timedelta(hours=4)
    return ViewPost("officer", {
        "activity_type": "investigation", "unit": ctx.ns.field.pk,
        "place": "鲁山县覆盖路1号", "arrived_at": local_minute(arrived),
        "departed_at": local_minute(arrived + timedelta(hours=1)),
        "officers": [officer.pk, head.pk], "recorder": head.pk, "party": "某超市",
        "scene": "冷柜温度异常", "evidence_items": "冷柜温度计读数"},
        ("activity.create",), lambda c: Activity.objects.filter(place="鲁山县覆盖路1号").exists())


def recording_assign_view(ctx: Ctx) -> ViewPost:
    device = f.DeviceFactory(unit=ctx.ns.field)
    rec = f.RecordingFactory(device=device, holder=ctx.person("officer"))
    activity = f.ActivityFactory(unit=ctx.ns.field,
                                 arrived_at=rec.started_at - timedelta(minutes=40))
    return ViewPost("custodian", {"activity": activity.pk}, ("recording.assign",),
                    lambda c: Recording.objects.filter(pk=rec.pk, activity=activity).exists(),
                    args=(rec.pk,), headers={"HTTP_HX_REQUEST": "true"},
                    bad_data={"activity": "", "note": ""})  # outside any: a reason is needed


def station_retry_view(ctx: Ctx) -> ViewPost:
    failed = StationVolume.objects.create(
        agency=ctx.ns.agency, host="station-1", watch_dir="/media/station",
        path="/media/station/B", serial="UNKNOWN-9", state=VolumeState.FAILED,
        error="未登记\nNot registered")
    return ViewPost("custodian", {}, ("station.retry",),
                    lambda c: StationVolume.objects.filter(path=failed.path,
                                                           state=VolumeState.QUEUED).exists(),
                    args=(failed.pk,), bad_data=None)


def ingest_upload_view(ctx: Ctx) -> ViewPost:
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-COV-UP")
    wav = wav_folder(ctx, "upload") / "REC_0001.WAV"
    return ViewPost("custodian", {
        "device": device.pk, "files": [SimpleUploadedFile("REC_0001.WAV", wav.read_bytes())]},
        ("ingest.start", "blob.store", "recording.ingest", "ingest.finish"),
        lambda c: Recording.objects.filter(device=device).exists())


VIEW_SCENARIOS: dict[str, Callable[[Ctx], ViewPost]] = {
    "login": login_view,
    "logout": logout_view,
    "device_register": device_register_view,
    "device_issue": device_issue_view,
    "device_return": device_return_view,
    "device_check": device_check_view,
    "device_event": device_event_view,
    "case_create": case_create_view,
    "activity_create": activity_create_view,
    "recording_assign": recording_assign_view,
    "station_retry": station_retry_view,
    "ingest_upload": ingest_upload_view,
}

# Views that handle POST and change nothing that the audit log records.
POST_WITHOUT_STATE = {
    "set_language": "Django's language switch: sets the browser's language cookie only",
}


def url_patterns(patterns=None, prefix: str = ""):
    """(url name, view callable) of every pattern of the project's URLconf."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield pattern.name or f"{prefix}{pattern.pattern}", pattern.callback


POST_MARKERS = ("request.POST", "request.FILES", "request.method")


def handles_post(view) -> bool:
    """Whether a view does something with a POST: a class-based view with ``post``; a
    function whose code reads the POST or the method, or which is wrapped by
    ``require_POST`` / ``require_http_methods([... "POST" ...])``."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return "post" in view_class.http_method_names and hasattr(view_class, "post")
    layer = view
    while layer is not None:
        for cell in getattr(layer, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                value = cell.cell_contents
                if isinstance(value, list | tuple | set | frozenset) and "POST" in value:
                    return True
        layer = getattr(layer, "__wrapped__", None)
    source = inspect.getsource(inspect.unwrap(view))
    return any(marker in source for marker in POST_MARKERS)


def test_every_view_that_handles_post_has_a_scenario_or_a_reason():
    handling = {name for name, view in url_patterns() if handles_post(view)}
    assert set(VIEW_SCENARIOS).isdisjoint(POST_WITHOUT_STATE)
    assert handling == set(VIEW_SCENARIOS) | set(POST_WITHOUT_STATE), (
        f"without a scenario: {sorted(handling - set(VIEW_SCENARIOS) - set(POST_WITHOUT_STATE))}"
        f"; in the table but not handling POST: "
        f"{sorted(set(VIEW_SCENARIOS) | set(POST_WITHOUT_STATE) - handling)}")
    # the inspection tells the pages that only show apart from the forms
    assert {"device_list", "audit_log", "home"}.isdisjoint(handling)


def prepared_post(name: str, ctx: Ctx, client):
    post = VIEW_SCENARIOS[name](ctx)
    user = ctx.person(post.role).user
    if post.logged_in:
        client.force_login(user)
    assert not post.changed(client), "the change is there before the POST"
    return post, user


def send(client, name: str, post: ViewPost, data: dict):
    for value in data.values():  # uploaded files are read again from their start
        for upload in value if isinstance(value, list) else [value]:
            if hasattr(upload, "seek"):
                upload.seek(0)
    return client.post(reverse(name, args=post.args), data, **post.headers)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(VIEW_SCENARIOS))
def test_a_state_changing_view_writes_its_entries(name, ctx, client):
    post, user = prepared_post(name, ctx, client)

    if post.bad_data is not None:  # refused: nothing changes, no success entry
        since = last_entry_id()
        send(client, name, post, post.bad_data)
        assert not post.changed(client)
        new = entries_since(since)
        assert not [e for e in new if e.action in post.actions
                    and e.outcome == Outcome.SUCCESS], shown(new)
        if post.bad_outcome:
            assert [e for e in new if e.action == post.actions[0]
                    and e.outcome == post.bad_outcome], shown(new)

    if name in PAGES:  # someone the page is not for: 403, nothing changes, no entry
        client.force_login(ctx.person(OUTSIDER).user)
        since = last_entry_id()
        assert send(client, name, post, post.data).status_code == 403
        assert not post.changed(client)
        assert not [e for e in entries_since(since) if e.action in post.actions]
        client.force_login(user)

    since = last_entry_id()
    response = send(client, name, post, post.data)
    assert response.status_code in (200, 302), response.content.decode()[-3000:]
    assert post.changed(client)
    assert_entries(since, post.actions, by_user(user))


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(VIEW_SCENARIOS))
def test_a_views_change_does_not_happen_without_its_entry(name, ctx, client):
    """The entry is written in the transaction of the change: when the entry cannot be
    written, the change is not made either."""
    post, _user = prepared_post(name, ctx, client)
    since = last_entry_id()
    with audit_inserts_fail(), pytest.raises(AuditInsertRefused):
        send(client, name, post, post.data)
    assert not post.changed(client)
    assert last_entry_id() == since


@pytest.mark.django_db
def test_a_refused_issue_is_audited_as_refused_and_issues_nothing(site, client):
    """DEV-3: profile B issues within the unit only; the refusal is recorded (its own
    transaction: the refusal must outlive the rollback of the issue)."""
    ns = site("full-process-b")
    device = f.DeviceFactory(unit=ns.field)
    outsider = f.PersonFactory(unit=ns.field2)
    custodian = ns.people["custodian"].user
    client.force_login(custodian)
    since = last_entry_id()
    response = client.post(reverse("device_issue", args=[device.pk]),
                           {"holder": outsider.pk, **check_fields()})
    assert response.status_code == 409
    assert not DeviceIssue.objects.filter(device=device).exists()
    assert RefusedIssue.objects.filter(device=device, person=outsider).exists()
    new = assert_entries(since, ["device.issue"], by_user(custodian), outcome=Outcome.REFUSED)
    assert not [e for e in new if e.outcome == Outcome.SUCCESS and e.action == "device.issue"]


@pytest.mark.django_db
def test_a_failed_login_is_audited_as_failure_without_the_password(site, client):
    ns = site()
    username = ns.people["officer"].user.username
    since = last_entry_id()
    client.post(reverse("login"), {"username": username, "password": "wrong-password"})
    [entry] = entries_since(since)
    assert (entry.action, entry.outcome, entry.actor_type) == (
        "auth.login", Outcome.FAILURE, ActorType.ANONYMOUS)
    assert entry.details == {"username": username} and entry.client_addr == "127.0.0.1"


def post_login(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.mark.django_db
def test_the_failure_that_locks_a_user_name_writes_auth_lockout(site, client):
    """GB/T 22239-2019 login failure handling: the fifth failure in a row locks the user
    name (auth.lockout); an attempt while it is locked, even with the right password, is
    denied and says why (witness/web/tests/test_lockout.py has the rules)."""
    username = site().people["officer"].user.username
    for _ in range(4):
        post_login(client, username, "wrong-password")
    since = last_entry_id()
    post_login(client, username, "wrong-password")
    failure, lock = entries_since(since)
    assert [(e.action, e.outcome, e.actor_type) for e in (failure, lock)] == [
        ("auth.login", Outcome.FAILURE, ActorType.ANONYMOUS),
        ("auth.lockout", Outcome.SUCCESS, ActorType.ANONYMOUS)]
    assert lock.details["username"] == username and lock.details["failures"] == 5
    since = last_entry_id()
    post_login(client, username, PASSWORD)
    [denied] = entries_since(since)
    assert (denied.action, denied.outcome) == ("auth.login", Outcome.DENIED)
    assert denied.details == {"username": username, "reason": "locked",
                              "until": lock.details["until"]}
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_lock_does_not_happen_without_its_entry(site, client):
    """The count and the lock are written in the transaction of their entries."""
    username = site().people["officer"].user.username
    for _ in range(4):
        post_login(client, username, "wrong-password")
    since = last_entry_id()
    with audit_inserts_fail(), pytest.raises(AuditInsertRefused):
        post_login(client, username, "wrong-password")
    assert last_entry_id() == since
    assert lockout.locked_until(username) is None
    assert LoginLock.objects.get(username=username).failures == 4


# == 2. CLI commands =========================================================================


@dataclass
class CliRun:
    """One `witness` command line, and what it must change and write."""

    args: tuple
    actions: tuple[str, ...]  # success entries it must write
    changed: Callable[[], bool]
    actor: str = "cli"  # the entries' actor: "cli:<os user>", or a system job's label
    failures: tuple[str, ...] = ()  # failure entries it must write too
    child: bool = False  # run as a child process (a transactional test)
    env: dict[str, str] = field(default_factory=dict)  # extra environment of the child
    exit_code: int = 0
    afterwards: Callable[[int], None] | None = None  # further checks, given the entry id before


def run_cli(run: CliRun) -> int:
    args = [str(a) for a in run.args]
    if run.child:
        env = child_env(**run.env)
        assert env is not None, "the test database must be reachable from a child"
        done = subprocess.run([sys.executable, "-m", "witness", *args], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == run.exit_code, done.stdout[-3000:] + done.stderr[-3000:]
        return done.returncode
    try:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    except SystemExit as exc:
        assert exc.code == run.exit_code
        return exc.code
    assert run.exit_code == 0
    return 0


def person_args(person: Person) -> str:
    return person.badge_number


def cli_activity_add(ctx: Ctx) -> CliRun:
    arrived = timezone.now() - timedelta(hours=5)
    officer, head = ctx.person("officer"), ctx.person("unit_head")
    return CliRun(("activity", "add", "--type", "investigation", "--unit", ctx.ns.field.code,
                   "--place", "鲁山县命令行路1号", "--arrived", local_minute(arrived),
                   "--departed", local_minute(arrived + timedelta(hours=1)),
                   "--officer", person_args(officer), "--officer", person_args(head),
                   "--recorder", person_args(officer)),
                  ("activity.create",),
                  lambda: Activity.objects.filter(place="鲁山县命令行路1号").exists())


def cli_activity_update(ctx: Ctx) -> CliRun:
    arrived = timezone.now() - timedelta(hours=5)
    activity = activities.create_activity(
        ctx.ns.agency, unit=ctx.ns.field, activity_type="investigation", place="旧地点",
        arrived_at=arrived, departed_at=arrived + timedelta(hours=1),
        officers=[ctx.person("officer"), ctx.person("unit_head")],
        recorder=ctx.person("officer"), actor="test")
    return CliRun(("activity", "update", activity.pk, "--place", "新地点"), ("activity.update",),
                  lambda: Activity.objects.filter(pk=activity.pk, place="新地点").exists())


def cli_case_add(ctx: Ctx) -> CliRun:
    return CliRun(("case", "add", "--number", "覆盖-CLI-1", "--name", "某案",
                   "--leader", person_args(ctx.person("leader"))),
                  ("case.create",), lambda: Case.objects.filter(number="覆盖-CLI-1").exists())


def cli_case_close(ctx: Ctx) -> CliRun:
    f.CaseFactory(agency=ctx.ns.agency, leader_in_charge=ctx.person("leader"),
                  number="覆盖-CLI-2")
    return CliRun(("case", "close", "覆盖-CLI-2"), ("case.close",),
                  lambda: Case.objects.filter(number="覆盖-CLI-2",
                                              closed_at__isnull=False).exists())


def cli_audit_checkpoint(ctx: Ctx) -> CliRun:
    ctx.ns  # some entries to sign  # noqa: B018
    before = Checkpoint.objects.count()
    return CliRun(("audit", "checkpoint"), ("audit.checkpoint",),
                  lambda: Checkpoint.objects.count() > before)


def cli_audit_export(ctx: Ctx) -> CliRun:
    """An export signs a checkpoint when none covers the range: that checkpoint is audited,
    under the person who exported."""
    ctx.ns  # entries past every existing checkpoint  # noqa: B018
    Sequencer().drain()
    size = tree_size()
    assert not Checkpoint.objects.filter(tree_size__gte=size).exists()
    return CliRun(("audit", "export", "--from", size - 1, "--out", ctx.tmp / "export.jsonl"),
                  ("audit.checkpoint",),
                  lambda: Checkpoint.objects.filter(tree_size__gte=size).exists())


def cli_custody(ctx: Ctx) -> CliRun:
    rec = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field))
    out = ctx.tmp / "custody.json"
    return CliRun(("custody", f"recording:{rec.pk}", "--out", out), ("custody.report",),
                  out.exists)


def write_csv(path: Path, rows) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def cli_import_people(ctx: Ctx) -> CliRun:
    path = write_csv(ctx.tmp / "人员.csv", [
        ["姓名", "执法证号", "单位", "角色", "电话", "用户名", "在职"],
        ["王覆盖", "41099001", ctx.ns.field.name, "执法人员", "", "wangfugai", ""]])
    return CliRun(("import", "people", path),
                  ("import.people", "person.create", "role.assign", "user.create"),
                  lambda: Person.objects.filter(badge_number="41099001").exists())


def cli_import_devices(ctx: Ctx) -> CliRun:
    path = write_csv(ctx.tmp / "设备.csv", [
        ["类型", "序列号", "型号", "厂商", "所属单位", "保管人", "状态"],
        ["执法记录仪", "ZF-COV-1", "DSJ-A9", "海康", ctx.ns.field.name, "", ""]])
    return CliRun(("import", "devices", path), ("import.devices", "device.register"),
                  lambda: Device.objects.filter(serial="ZF-COV-1").exists())


def cli_scheduler(ctx: Ctx) -> CliRun:
    assert not DBTaskResult.objects.exists()
    return CliRun(("scheduler",), ("job.enqueue",), DBTaskResult.objects.exists)


DEMO_MODELS = (Agency, Unit, Person, get_user_model(), Device, Case, Activity)


def every_demo_row_has_an_entry(since: int) -> None:
    """Each agency, unit, person, login, device, case and activity the demo made is the
    object of an entry of the demo's."""
    about = {(e.object_type, e.object_id) for e in entries_since(since)}
    for model in DEMO_MODELS:
        label = model._meta.label_lower
        missing = [pk for pk in model.objects.values_list("pk", flat=True)
                   if (label, str(pk)) not in about]
        assert not missing, f"{label} rows without an entry: {missing}"


def cli_demo(ctx: Ctx) -> CliRun:
    assert not Agency.objects.exists()
    return CliRun(("demo", "--no-recordings"),
                  ("agency.create", "unit.create", "user.create", "person.create",
                   "role.assign", "profile.apply", "device.register", "case.create",
                   "activity.create", "device.issue", "device.check", "device.return",
                   "agency.update"),
                  Agency.objects.exists, actor="system:demo",
                  afterwards=every_demo_row_has_an_entry)


def cli_derivatives(ctx: Ctx) -> CliRun:
    rec = ingested_recording(ctx)
    return CliRun(("derivatives", "--recording", rec.pk), ("derivative.make",),
                  lambda: Derivative.objects.filter(recording=rec, status=Status.DONE).exists())


def cli_device_add(ctx: Ctx) -> CliRun:
    return CliRun(("device", "add", "--kind", "body_camera", "--serial", "DSJ-CLI-NEW",
                   "--unit", ctx.ns.field.code), ("device.register",),
                  lambda: Device.objects.filter(serial="DSJ-CLI-NEW").exists())


def cli_device_issue(ctx: Ctx) -> CliRun:
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-CLI-ISS")
    return CliRun(("device", "issue", device.serial, "--to", person_args(ctx.person("officer")),
                   "--battery", 90, "--free-mb", 4096,
                   "--device-time", local_minute(timezone.now())),
                  ("device.issue", "device.check"),
                  lambda: DeviceIssue.objects.filter(device=device).exists())


def cli_device_return(ctx: Ctx) -> CliRun:
    device = issued_device(ctx)
    return CliRun(("device", "return", device.serial), ("device.return",),
                  lambda: DeviceIssue.objects.filter(device=device,
                                                     returned_at__isnull=False).exists())


def cli_device_check(ctx: Ctx) -> CliRun:
    device = issued_device(ctx)
    return CliRun(("device", "check", device.serial, "--by", person_args(ctx.person("officer")),
                   "--battery", 80, "--free-mb", 2048,
                   "--device-time", local_minute(timezone.now())),
                  ("device.check",), lambda: PreUseCheck.objects.filter(device=device).exists())


def cli_device_event(ctx: Ctx) -> CliRun:
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-CLI-EVT")
    return CliRun(("device", "event", device.serial, "--kind", "repair", "--description",
                   "送厂维修"), ("device.event",),
                  lambda: DeviceEvent.objects.filter(device=device).exists())


def cli_ingest(ctx: Ctx) -> CliRun:
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-CLI-ING")
    return CliRun(("ingest", wav_folder(ctx), "--device", device.serial),
                  ("ingest.start", "blob.store", "recording.ingest", "ingest.finish"),
                  lambda: Recording.objects.filter(device=device).exists())


def cli_naming_add(ctx: Ctx) -> CliRun:
    ctx.ns  # noqa: B018
    return CliRun(("naming", "add", "cov-recorder", r"REC(?P<start>[0-9]{14})N(?P<seq>[0-9]{1,6})",
                   "--example", "REC20261120093005N12.WAV"), ("naming.pattern_add",),
                  CustomNamePattern.objects.filter(name="cov-recorder").exists)


def cli_naming_assign(ctx: Ctx) -> CliRun:
    ctx.ns  # noqa: B018
    return CliRun(("naming", "assign", "DSJ-COV", "date-time-seq", "serial-badge-time-seq"),
                  ("naming.assign",), ModelNaming.objects.filter(model="DSJ-COV").exists)


def cli_person_add(ctx: Ctx) -> CliRun:
    return CliRun(("person", "add", "--name", "李覆盖", "--unit", ctx.ns.field.code,
                   "--badge", "41098001", "--role", "officer"),
                  ("person.create", "role.assign"),
                  lambda: Person.objects.filter(badge_number="41098001").exists())


def cli_person_move(ctx: Ctx) -> CliRun:
    officer = ctx.person("officer")
    return CliRun(("person", "move", person_args(officer), "--unit", ctx.ns.field2.code,
                   "--effective-from", local_minute(timezone.now())), ("person.move",),
                  lambda: PersonUnitHistory.objects.filter(person=officer,
                                                           unit=ctx.ns.field2).exists())


def cli_person_role_add(ctx: Ctx) -> CliRun:
    officer = ctx.person("officer")
    return CliRun(("person", "role-add", person_args(officer), "custodian"), ("role.assign",),
                  lambda: officer.roles.filter(role="custodian").exists())


def cli_person_role_end(ctx: Ctx) -> CliRun:
    officer = ctx.person("officer")
    return CliRun(("person", "role-end", person_args(officer), "officer"), ("role.end",),
                  lambda: officer.roles.filter(role="officer",
                                               effective_to__isnull=False).exists())


def cli_profile_apply(ctx: Ctx) -> CliRun:
    agency = ctx.ns.agency
    return CliRun(("profile", "apply", "full-process-b"), ("profile.apply", "profile.version"),
                  ProfileActivation.objects.filter(agency=agency,
                                                   version__name="full-process-b").exists)


def cli_station(ctx: Ctx) -> CliRun:
    """The station as it runs: a `witness station` process that forks a child per
    volume; the ingest's entries name the station."""
    need_ffmpeg()
    start = (timezone.localtime() - timedelta(days=1)).replace(hour=10, minute=0, second=0,
                                                               microsecond=0)
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-COV-ST")
    devices.issue_device(device, ctx.person("officer"), at=start - timedelta(hours=1),
                         no_check_reason="test", actor="test")
    watch = ctx.tmp / "media"
    watch.mkdir()
    cam = docked_camera(watch / "A", device.serial, "B7", start.replace(tzinfo=None), count=1)
    return CliRun(("station", "--watch", watch, "--once", "--settle", 0, "--interval", 0.2),
                  ("ingest.start", "blob.store", "recording.ingest", "ingest.finish"),
                  StationVolume.objects.filter(path=str(cam.root),
                                               state=VolumeState.DONE).exists,
                  actor="system:station", child=True,
                  env={"WITNESS_STORAGE": ctx.settings.WITNESS_STORAGE})


def cli_fixity(ctx: Ctx) -> CliRun:
    blob = stored_blob(ctx)
    return CliRun(("fixity", "--all"), ("fixity.record", "fixity.run"),
                  FixityCheck.objects.filter(blob=blob).exists)


def cli_fixity_replicate_missing(ctx: Ctx) -> CliRun:
    ctx.replica_store()
    blob = stored_blob(ctx)
    return CliRun(("fixity", "--replicate-missing"), ("blob.replicate",),
                  Replica.objects.filter(blob=blob).exists)


def cli_fixity_repair(ctx: Ctx) -> CliRun:
    ctx.replica_store()
    blob = stored_blob(ctx)
    replica.replicate(blob.pk, actor="test")
    good = b"".join(get_backend().read(blob.key))
    flip(get_backend(), blob.key)

    def repaired() -> bool:
        data = b"".join(get_backend().read(blob.key))
        return hashlib.sha256(data).hexdigest() == blob.sha256 == hashlib.sha256(
            good).hexdigest()

    return CliRun(("fixity", "--all", "--repair"),
                  ("blob.repair", "finding.raise", "fixity.record"), repaired,
                  failures=("blob.fixity", "fixity.run"))


CLI_SCENARIOS: dict[str, Callable[[Ctx], CliRun]] = {
    "activity add": cli_activity_add,
    "activity update": cli_activity_update,
    "case add": cli_case_add,
    "case close": cli_case_close,
    "audit checkpoint": cli_audit_checkpoint,
    "audit export": cli_audit_export,
    "custody": cli_custody,
    "import people": cli_import_people,
    "import devices": cli_import_devices,
    "scheduler": cli_scheduler,
    "demo": cli_demo,
    "derivatives": cli_derivatives,
    "device add": cli_device_add,
    "device issue": cli_device_issue,
    "device return": cli_device_return,
    "device check": cli_device_check,
    "device event": cli_device_event,
    "ingest": cli_ingest,
    "naming add": cli_naming_add,
    "naming assign": cli_naming_assign,
    "person add": cli_person_add,
    "person move": cli_person_move,
    "person role-add": cli_person_role_add,
    "person role-end": cli_person_role_end,
    "profile apply": cli_profile_apply,
    "station": cli_station,
    "fixity": cli_fixity,
    "fixity[--replicate-missing]": cli_fixity_replicate_missing,
    "fixity[--repair]": cli_fixity_repair,
}

# Subcommands that only read (what they print is all they do).
CLI_READ_ONLY = {
    "activity list", "activity show", "activity types",
    "case list", "case show",
    "audit verify", "audit prove", "audit consistency", "audit check-proof",
    "audit public-key",  # making the key on first use: test_making_the_signing_key_is_audited
    "device list", "device show", "device ratio",
    "naming list", "naming test",
    "person list", "person show",
    "profile list", "profile show",
}

# Subcommands that change state yet write no entry of their own, and why.
CLI_NO_ENTRY = {
    "audit sequence": "the audit log's own machinery: it gives committed entries their "
                      "Merkle leaves, which are the record (checked by `audit verify`); an "
                      "entry per pass would itself need a leaf, and never reach a fixed "
                      "point. Its periodic checkpoints (--follow) are audited. See "
                      "test_audit_sequence_gives_every_entry_its_leaf_and_writes_none.",
    "profile new": "writes a draft profile file for editing in WITNESS_HOME/profiles; nothing "
                   "takes effect until `profile apply`, which is audited with the content's "
                   "SHA-256 (profile.version), as is every later edit that is applied",
    "serve": "a launcher: runs gunicorn, db_worker, `audit sequence --follow` and "
             "`scheduler --follow`, whose changes are covered by their own scenarios",
}


def witness_subcommands() -> set[str]:
    """Every subcommand of every management command of a witness app ("device issue"), or
    the command itself where it has none ("ingest")."""
    found = set()
    for name, app in get_commands().items():
        if not app.startswith("witness"):
            continue
        subcommands = getattr(load_command_class(app, name), "subcommands", None) or {}
        found |= {f"{name} {sub}" for sub in subcommands} if subcommands else {name}
    return found


def test_every_witness_subcommand_is_classified():
    with_scenario = {key.split("[")[0] for key in CLI_SCENARIOS}
    tables = [with_scenario, CLI_READ_ONLY, set(CLI_NO_ENTRY)]
    for i, a in enumerate(tables):
        for b in tables[i + 1:]:
            assert a.isdisjoint(b), a & b
    classified = with_scenario | CLI_READ_ONLY | set(CLI_NO_ENTRY)
    found = witness_subcommands()
    assert found == classified, (f"not classified: {sorted(found - classified)}; "
                                 f"no such subcommand: {sorted(classified - found)}")


def check_cli(key: str, ctx: Ctx) -> None:
    run = CLI_SCENARIOS[key](ctx)
    assert not run.changed(), "the change is there before the command"
    since = last_entry_id()
    run_cli(run)
    assert run.changed()
    assert_entries(since, run.actions, by_label(run.actor))
    assert_entries(since, run.failures, by_label(run.actor), outcome=Outcome.FAILURE)
    if run.afterwards is not None:
        run.afterwards(since)


IN_A_CHILD = {"station"}  # run as `witness …` in a child process: transactional tests


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(set(CLI_SCENARIOS) - IN_A_CHILD))
def test_a_state_changing_subcommand_writes_its_entries(key, ctx):
    check_cli(key, ctx)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", sorted(IN_A_CHILD))
def test_a_state_changing_command_in_its_own_process_writes_its_entries(key, ctx):
    check_cli(key, ctx)


@pytest.mark.django_db
def test_audit_sequence_gives_every_entry_its_leaf_and_writes_none(ctx):
    ctx.ns  # noqa: B018
    pending = AuditEntry.objects.filter(leaf__isnull=True)
    assert pending.exists()
    since = last_entry_id()
    call_command("audit", "sequence", stdout=io.StringIO())
    assert not pending.exists()
    assert last_entry_id() == since
    assert AuditLeaf.objects.filter(entry_id=since).exists()


@pytest.mark.django_db
def test_making_the_signing_key_is_audited(ctx):
    ctx.settings.WITNESS_AUDIT_KEY = str(ctx.tmp / "new-signing.key")
    since = last_entry_id()
    call_command("audit", "public-key", stdout=io.StringIO())
    assert (ctx.tmp / "new-signing.key").exists()
    assert_entries(since, ["audit.key"], by_label("system"))  # made on first use


# == 3. background tasks =====================================================================


@dataclass
class TaskRun:
    args: tuple
    actions: tuple[str, ...]
    changed: Callable[[], bool]
    actor: str  # the job's label in the log


def task_make_derivatives(ctx: Ctx) -> TaskRun:
    rec = ingested_recording(ctx)
    return TaskRun((rec.pk,), ("derivative.make",),
                   lambda: Derivative.objects.filter(recording=rec, status=Status.DONE).exists(),
                   "system:derivatives")


def task_replicate_blob(ctx: Ctx) -> TaskRun:
    ctx.replica_store()
    blob = stored_blob(ctx)
    return TaskRun((blob.pk,), ("blob.replicate",), Replica.objects.filter(blob=blob).exists,
                   "system:replicate")


def task_fixity_batch(ctx: Ctx) -> TaskRun:
    blob = stored_blob(ctx)
    return TaskRun((), ("fixity.record", "fixity.run"),
                   FixityCheck.objects.filter(blob=blob).exists, "system:fixity")


TASK_SCENARIOS: dict[str, Callable[[Ctx], TaskRun]] = {
    "witness.derivatives.tasks.make_derivatives": task_make_derivatives,
    "witness.storage.tasks.replicate_blob": task_replicate_blob,
    "witness.storage.tasks.fixity_batch": task_fixity_batch,
}


def witness_tasks() -> dict[str, Task]:
    """Every django-tasks task defined in a tasks.py under witness/, by dotted path."""
    root = Path(witness.__file__).parent
    found = {}
    for path in sorted(root.rglob("tasks.py")):
        module = import_module(".".join(("witness", *path.relative_to(root).with_suffix("").parts)))
        for value in vars(module).values():
            if isinstance(value, Task) and value.func.__module__ == module.__name__:
                found[value.module_path] = value
    return found


def test_every_task_has_a_scenario():
    found = witness_tasks()
    assert found, "no tasks found: the discovery is broken"
    assert set(found) == set(TASK_SCENARIOS), (
        f"without a scenario: {sorted(set(found) - set(TASK_SCENARIOS))}; "
        f"no such task: {sorted(set(TASK_SCENARIOS) - set(found))}")


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(TASK_SCENARIOS))
def test_a_task_writes_its_entries(path, ctx):
    run = TASK_SCENARIOS[path](ctx)
    assert not run.changed()
    since = last_entry_id()
    witness_tasks()[path].call(*run.args)
    assert run.changed()
    assert_entries(since, run.actions, by_label(run.actor))
