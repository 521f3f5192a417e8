"""The web export after approval (issue 7 item 5; EVD-1, EVD-3): a disclosure request by
export package goes through the real approval chain; the custodian makes the package (a
django-tasks task, run at once here), the requester downloads it as a tar archive streamed
on the fly, whose originals are byte for byte the stored ones and which ``witness
verify-package`` accepts. Refused before the approval, after its period, after revocation
and for another agency; every step audited."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from witness.access import chain
from witness.access.models import Grant, RequestKind, StepState
from witness.audit.models import AuditEntry, Outcome
from witness.evidence import export, verify
from witness.evidence.tests.test_export import World
from witness.preservation import packages
from witness.preservation.models import ExportPackage, PackageStatus
from witness.storage.config import get_backend
from witness.storage.tests.test_fixity import flip

pytestmark = pytest.mark.django_db

WITNESS = Path(sys.executable).with_name("witness")
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def world(site, settings, tmp_path):
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    settings.WITNESS_PROFILE_DIR = str(tmp_path / "profiles")
    settings.WITNESS_AUDIT_KEY = tmp_path / "audit.key"
    settings.WITNESS_HOME = tmp_path / "home"
    settings.TASKS = IMMEDIATE
    return World(site, tmp_path, "lushan-2019", ("sha256", "sm3"))


def disclosure(world, *, approve: bool = True):
    """The officer asks to give the activity's recordings to a court as a package; each
    step of the chain is decided by someone who may (unit head, the case's leader, the
    custodian's registration)."""
    now = timezone.now()
    req = chain.submit(world.officer, activity=world.act, reason="法院调取证据",
                       wanted_from=now, wanted_until=now + timedelta(days=3),
                       kind=RequestKind.DISCLOSURE, recipient_kind="court",
                       recipient_name="鲁山县人民法院", delivery="package", actor="test")
    while approve and req.steps.filter(state=StepState.OPEN).exists():
        step = req.steps.get(state=StepState.OPEN)
        chain.decide(step, chain.deciders(step).first(), True, "同意", actor="test")
    req.refresh_from_db()
    return req


def since_entries(since: int, action: str):
    return list(AuditEntry.objects.filter(pk__gt=since, action=action).order_by("pk"))


def top() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def make(client, req, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("export_package_make", args=[req.pk]),
                           HTTP_HX_REQUEST="true")


def untar(response, into: Path) -> Path:
    data = b"".join(response.streaming_content)
    assert len(data) == int(response["Content-Length"])
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        tar.extractall(into, filter="data")
    return into / f"witness-request-{response.wsgi_request.resolver_match.kwargs['pk']}"


def test_EVD3_EVD1_approved_request_to_package_to_download_verified(
        world, login, client, tmp_path, django_capture_on_commit_callbacks):
    req = disclosure(world)
    assert req.status == "granted"
    login(world.custodian)
    detail = client.get(reverse("request_detail", args=[req.pk])).content.decode()
    assert reverse("export_package", args=[req.pk]) in detail
    page = client.get(reverse("export_package", args=[req.pk])).content.decode()
    assert 'id="package-make"' in page and 'id="package-download"' not in page

    since = top()
    response = make(client, req, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    pkg = ExportPackage.objects.get(request=req)
    assert pkg.status == PackageStatus.READY and pkg.attempts == 1, pkg.error
    # the answer was rendered before the commit ran the task: queued, and polling
    assert 'data-status="queued"' in response.content.decode()
    assert 'hx-trigger="every 3s"' in response.content.decode()
    page = client.get(reverse("export_package", args=[req.pk]),
                      HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="ready"' in page and "hx-trigger" not in page
    assert sorted(pkg.recordings) == sorted(r.pk for r in world.recs)
    bag = packages.bag_of(req.pk)
    assert bag == tmp_path / "home" / "exports" / str(req.pk) / "bag"
    [asked] = since_entries(since, "evidence.package_request")
    assert asked.actor_id == str(world.custodian.user.pk)
    assert [e.actor_label for e in since_entries(since, "evidence.package_ready")] == [
        packages.ACTOR]
    [exported] = since_entries(since, "evidence.export")
    assert exported.outcome == Outcome.SUCCESS and exported.details["files"] == 2

    # one package per request: asking again queues nothing and writes nothing
    tasks = DBTaskResult.objects.count()
    again = top()
    make(client, req, django_capture_on_commit_callbacks)
    assert DBTaskResult.objects.count() == tasks and ExportPackage.objects.count() == 1
    assert not since_entries(again, "evidence.package_request")

    # the requester downloads it: the originals byte for byte, and the bag verifies
    login(world.officer)
    page = client.get(reverse("export_package", args=[req.pk])).content.decode()
    assert 'id="package-download"' in page and 'id="package-make"' not in page
    before = top()
    response = client.get(reverse("export_package_download", args=[req.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/x-tar"
    root = untar(response, tmp_path / "fetched")
    for rec in world.recs:
        name = f"{export.ORIGINALS}/{rec.pk}-{export.safe_name(rec.source_path)}"
        source = tmp_path / "src" / rec.source_path.rsplit("/", 1)[-1]
        assert (root / name).read_bytes() == source.read_bytes()
    assert verify.verify(root).ok
    env = {**os.environ, "WITNESS_HOME": str(tmp_path / "cli-home")}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([str(WITNESS), "verify-package", str(root)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    [download] = since_entries(before, "evidence.package_download")
    assert download.actor_id == str(world.officer.user.pk)
    assert download.details["tagmanifest_sha256"] == pkg.tagmanifest_sha256
    # one entry per download
    client.get(reverse("export_package_download", args=[req.pk]))
    assert len(since_entries(before, "evidence.package_download")) == 2


def test_EVD3_the_download_is_streamed_with_flat_memory(world, login, client,
                                                        django_capture_on_commit_callbacks):
    req = disclosure(world)
    login(world.custodian)
    make(client, req, django_capture_on_commit_callbacks)
    response = client.get(reverse("export_package_download", args=[req.pk]))
    digest, size = hashlib.sha256(), 0
    tracemalloc.start()
    try:
        for chunk in response.streaming_content:
            digest.update(chunk)
            size += len(chunk)
            del chunk
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == int(response["Content-Length"]) > 3 * 1024 * 1024
    assert peak < 2.5 * 1024 * 1024, peak  # the largest file is 3 MiB; pieces of 1 MiB


def denied(since: int, reason: str):
    rows = [e for e in AuditEntry.objects.filter(pk__gt=since, outcome=Outcome.DENIED)]
    assert [e.details.get("reason") for e in rows] == [reason], [
        (e.action, e.details) for e in rows]
    return rows[0]


def test_EVD3_refused_before_the_approval(world, login, client,
                                          django_capture_on_commit_callbacks):
    req = disclosure(world, approve=False)
    login(world.custodian)
    since = top()
    assert make(client, req, django_capture_on_commit_callbacks).status_code == 403
    assert denied(since, "not_granted").action == "recording.export"
    assert not ExportPackage.objects.exists() and not DBTaskResult.objects.exists()
    since = top()
    login(world.officer)
    assert client.get(reverse("export_package_download",
                              args=[req.pk])).status_code == 403
    denied(since, "not_granted")


@pytest.fixture
def ready(world, login, client, django_capture_on_commit_callbacks):
    req = disclosure(world)
    login(world.custodian)
    make(client, req, django_capture_on_commit_callbacks)
    assert ExportPackage.objects.get(request=req).status == PackageStatus.READY
    login(world.officer)
    return req


def test_EVD3_refused_after_the_approved_period(world, ready, client):
    now = timezone.now()
    Grant.objects.filter(request=ready).update(valid_from=now - timedelta(hours=2),
                                               valid_until=now - timedelta(hours=1))
    since = top()
    response = client.get(reverse("export_package_download", args=[ready.pk]))
    assert response.status_code == 403
    denied(since, "expired")
    assert not since_entries(since, "evidence.package_download")


def test_EVD3_refused_after_revocation(world, ready, client):
    chain.revoke(ready, world.p["leader"], "法院撤回调取", actor="test")
    since = top()
    assert client.get(reverse("export_package_download", args=[ready.pk])).status_code == 403
    denied(since, "revoked")
    page = client.get(reverse("export_package", args=[ready.pk])).content.decode()
    assert 'id="package-download"' not in page and 'id="package-refusal"' in page


def test_EVD3_another_agency_gets_404_with_a_denied_entry(world, ready, site, login, client):
    other = site()
    login(other.people["custodian"])
    since = top()
    assert client.get(reverse("export_package_download", args=[ready.pk])).status_code == 404
    denied(since, "scope")
    since = top()
    assert client.post(reverse("export_package_make", args=[ready.pk])).status_code == 404
    denied(since, "scope")


def test_EVD3_only_the_custodian_or_the_requester_downloads(world, ready, login, client):
    login(world.p["unit_head"])  # decided a step: sees the request, may not fetch it
    since = top()
    assert client.get(reverse("export_package", args=[ready.pk])).status_code == 200
    assert client.get(reverse("export_package_download", args=[ready.pk])).status_code == 403
    denied(since, "not_recipient")


def test_EVD3_a_viewing_request_has_no_package(world, login, client):
    now = timezone.now()
    req = chain.submit(world.officer, activity=world.act, reason="查阅", wanted_from=now,
                       wanted_until=now + timedelta(days=1), actor="test")
    login(world.custodian)
    assert client.get(reverse("export_package", args=[req.pk])).status_code == 404


def test_EVD1_a_tampered_original_fails_the_package_with_its_error(
        world, login, client, django_capture_on_commit_callbacks):
    req = disclosure(world)
    flip(get_backend(), world.recs[0].blob.key)
    login(world.custodian)
    since = top()
    page = make(client, req, django_capture_on_commit_callbacks).content.decode()
    pkg = ExportPackage.objects.get(request=req)
    assert pkg.status == PackageStatus.FAILED and pkg.error["code"] == "export_mismatch"
    assert pkg.attempts == 1  # a mismatch is not tried again
    page = client.get(reverse("export_package", args=[req.pk])).content.decode()
    assert 'id="package-error"' in page and 'id="package-make"' in page
    [failed] = since_entries(since, "evidence.package_fail")
    assert failed.outcome == Outcome.FAILURE and failed.details["retry"] is False
    assert not packages.bag_of(req.pk).exists()
    login(world.officer)
    assert client.get(reverse("export_package_download", args=[req.pk])).status_code == 404


def test_EVD1_the_task_is_time_limited_and_can_be_asked_again(
        world, settings, login, client, django_capture_on_commit_callbacks):
    req = disclosure(world)
    settings.WITNESS_EXPORT_TIME_LIMIT = 0
    login(world.custodian)
    make(client, req, django_capture_on_commit_callbacks)
    pkg = ExportPackage.objects.get(request=req)
    assert pkg.status == PackageStatus.FAILED and pkg.error["code"] == "time_limit"
    assert not packages.bag_of(req.pk).exists()
    assert not packages.bag_of(req.pk).with_name("bag.partial").exists()
    settings.WITNESS_EXPORT_TIME_LIMIT = 3600
    make(client, req, django_capture_on_commit_callbacks)  # the failed one, again
    pkg.refresh_from_db()
    assert pkg.status == PackageStatus.READY and ExportPackage.objects.count() == 1


def test_EVD1_a_write_error_is_retried_then_recorded(world, login, client,
                                                      django_capture_on_commit_callbacks):
    req = disclosure(world)
    root = packages.root_of(req.pk)
    root.parent.mkdir(parents=True)
    root.write_text("not a folder")  # every attempt fails to write the package
    login(world.custodian)
    since = top()
    make(client, req, django_capture_on_commit_callbacks)
    pkg = ExportPackage.objects.get(request=req)
    assert pkg.status == PackageStatus.FAILED and pkg.attempts == packages.MAX_ATTEMPTS
    fails = since_entries(since, "evidence.package_fail")
    assert [e.details["retry"] for e in fails] == [True] * (packages.MAX_ATTEMPTS - 1) + [
        False]


def test_EVD1_a_second_run_of_the_task_does_nothing(world, ready):
    pkg = ExportPackage.objects.get(request=ready)
    since = top()
    assert packages.build(pkg.pk)["skipped"] is True
    assert top() == since
