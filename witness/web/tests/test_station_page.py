"""The ingest station page (issue 3 item 5): custodians see each docked volume's state and
progress, retry a failed one (audited), and read a run's per-file outcomes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.recordings.models import IngestItem, Outcome
from witness.station.models import StationVolume, VolumeState
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def volume(run=None, **kwargs):
    defaults = {"host": "station-1", "watch_dir": "/media/station", "path": "/media/station/A",
                "agency": run.agency if run else None}
    return StationVolume.objects.create(run=run, **{**defaults, **kwargs})


@pytest.fixture
def docked(site):
    ns = site()
    ns.device = f.DeviceFactory(unit=ns.field, serial="DSJ-PG-1")
    ns.run = f.IngestRunFactory(agency=ns.agency, device=ns.device, files_total=5,
                                bytes_total=1000,
                                counts={"stored": 3, "duplicate": 0, "skipped": 1,
                                        "failed": 1})
    IngestItem.objects.create(run=ns.run, path="DCIM/坏文件.MP4", outcome=Outcome.FAILED,
                              reason="无法读取\nCannot read", size=10)
    ns.busy = volume(ns.run, serial="DSJ-PG-1", state=VolumeState.INGESTING,
                     started_at=timezone.now(), files_done=2, bytes_done=500,
                     current_file="DCIM/0002.MP4")
    ns.failed = volume(None, path="/media/station/B", serial="UNKNOWN-9", agency=ns.agency,
                       state=VolumeState.FAILED, error="未登记\nNot registered\nTraceback")
    return ns


def test_custodian_sees_progress_and_the_page_polls_while_busy_ING1(docked, login):
    client = login(docked.people["custodian"])
    page = client.get(reverse("station"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "DSJ-PG-1" in body and 'value="50"' in body and "DCIM/0002.MP4" in body
    assert "2 of 5 files" in body or "5 个文件中的 2 个" in body
    assert 'hx-trigger="every 2s"' in body
    assert "未登记" in body and "Not registered" in body
    assert reverse("station_retry", args=[docked.failed.pk]) in body
    partial = client.get(reverse("station"), HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"<html" not in partial.content


def test_page_polls_slowly_when_nothing_is_in_progress_ING1(docked, login):
    StationVolume.objects.filter(pk=docked.busy.pk).update(state=VolumeState.DONE)
    page = login(docked.people["custodian"]).get(reverse("station"))
    assert b"every 2s" not in page.content and b'hx-trigger="every 10s"' in page.content


def test_station_page_query_count_does_not_grow_with_volumes_ING1(docked, login):
    client = login(docked.people["custodian"])
    client.get(reverse("station"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("station"))
    for i in range(10):
        volume(f.IngestRunFactory(agency=docked.agency, device=docked.device),
               path=f"/media/station/V{i}", state=VolumeState.DONE)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("station"))
    assert len(many) == len(few)


def test_retry_queues_a_failed_docked_volume_again_keeping_the_failure_with_audit_ING1(docked,
                                                                                  login):
    client = login(docked.people["custodian"])
    done = client.post(reverse("station_retry", args=[docked.failed.pk]))
    assert done.status_code == 302
    docked.failed.refresh_from_db()
    assert docked.failed.state == VolumeState.FAILED and not docked.failed.present
    again = StationVolume.objects.get(path=docked.failed.path, present=True)
    assert again.state == VolumeState.QUEUED and again.agency == docked.agency
    entry = AuditEntry.objects.get(action="station.retry")
    assert entry.details["failed"] == docked.failed.pk
    refused = client.post(reverse("station_retry", args=[docked.failed.pk]))
    assert refused.status_code == 409  # no longer the docked row
    assert "只能重试" in refused.content.decode()


def test_run_page_lists_each_file_outcome_with_its_reason_ING1(docked, login):
    page = login(docked.people["custodian"]).get(reverse("ingest_run", args=[docked.run.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "DCIM/坏文件.MP4" in body and "无法读取" in body and "Cannot read" in body


def test_officers_and_administrators_may_not_open_the_station_ING1(docked, login):
    for role in ("officer", "sysadmin"):
        client = login(docked.people[role])
        assert client.get(reverse("station")).status_code == 403
        assert client.post(reverse("station_retry", args=[docked.failed.pk])).status_code \
            == 403


def test_another_agency_does_not_see_this_agencys_volumes_or_runs_ING1(docked, site, login):
    other = site()
    page = login(other.people["custodian"]).get(reverse("station"))
    assert b"DSJ-PG-1" not in page.content and b"UNKNOWN-9" not in page.content
    assert login(other.people["custodian"]).post(
        reverse("station_retry", args=[docked.failed.pk])).status_code == 404
    assert login(other.people["custodian"]).get(
        reverse("ingest_run", args=[docked.run.pk])).status_code == 404
