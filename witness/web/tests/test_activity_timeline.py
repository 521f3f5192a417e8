"""The activity page's timeline (issue 8 item 2; ACT-2, ACT-3, ACT-5 B16): every segment of
every device against arrival→departure, each gap drawn and labelled with the status of its
finding (raised by the real compliance rules), photos, findings, work records, and a query
count that does not grow with the number of segments or devices."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from witness.access import authz
from witness.activities.models import WorkRecord
from witness.compliance import engine
from witness.findings import workflow
from witness.findings.models import Finding, FindingStatus
from witness.recordings import segments
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def make_activity(ns, *, devices=2, per_device=3, gap_minutes=5):
    """An activity three days ago (upload time passed, so ACT-3 decides), officer and head on
    it, ``devices`` devices with ``per_device`` 5-minute segments ``gap_minutes`` apart, and
    one photo; the segments numbered as ingest numbers them."""
    arrived = timezone.now().replace(microsecond=0) - timedelta(days=3)
    activity = f.ActivityFactory(unit=ns.field, arrived_at=arrived,
                                 departed_at=arrived + timedelta(hours=1),
                                 scene="仓库", party_conduct="配合", violations_found="无证经营")
    f.ActivityOfficerFactory(activity=activity, person=ns.people["officer"], is_recorder=True)
    f.ActivityOfficerFactory(activity=activity, person=ns.people["unit_head"])
    recs = []
    for d in range(devices):
        device = f.DeviceFactory(unit=ns.field, serial=f"DSJ-TL-{activity.pk}-{d}")
        start = arrived
        for _ in range(per_device):
            recs.append(f.RecordingFactory(
                device=device, holder=ns.people["officer"], activity=activity,
                attribution="attributed", queue_reason="", started_at=start,
                ended_at=start + timedelta(minutes=5)))
            start += timedelta(minutes=5 + gap_minutes)
        segments.recompute(activity.pk, device.pk)
        if d == 0:
            f.RecordingFactory(device=device, holder=ns.people["officer"], activity=activity,
                               attribution="attributed", queue_reason="", kind="photo",
                               started_at=arrived + timedelta(minutes=2), ended_at=None)
    return activity, recs


def page(client, activity):
    response = client.get(reverse("activity_detail", args=[activity.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_act5_act3_every_segment_and_gap_is_drawn_with_its_finding_status(site, client, login):
    ns = site()
    activity, recs = make_activity(ns, devices=2, per_device=3)
    WorkRecord.objects.create(activity=activity, kind="stop", reason="device_failure",
                              basis="电池耗尽", written_by=ns.people["officer"])
    engine.run(ns.agency)
    gap_findings = Finding.objects.filter(rule_id="ACT-5.gap")
    assert gap_findings.count() == 4  # two gaps of 5 minutes on each device
    coverage = Finding.objects.get(rule_id="ACT-3.coverage", object_id=activity.pk)
    # The officer explains one interruption: its gap shows the new status.
    explained = gap_findings.order_by("pk").first()
    workflow.explain(authz.subject_of(ns.people["officer"].user), explained, "设备电量不足")

    login(ns.people["unit_head"])
    html = page(client, activity)
    for rec in recs:  # every segment links to the player
        assert f'data-segment="{rec.pk}"' in html
        assert reverse("recording_play", args=[rec.pk]) in html
    assert html.count("data-photo=") == 1
    # 4 interruptions, and the uncovered time: 5-min holes both devices share (2) and the
    # end after the last segments (35 to 60 minutes).
    rows = re.findall(r'<tr id="gap-(\d+)" class="([^"]+)"', html)
    assert len(rows) == 4 + 3
    classes = [c for _n, c in rows]
    assert classes.count("gap-explained") == 1 and classes.count("gap-open") == 6
    assert reverse("finding_detail", args=[explained.pk]) in html
    assert reverse("finding_detail", args=[coverage.pk]) in html
    # Percentages computed by the server: the axis is arrival→departure (1 hour), so the
    # first segment of each device starts at 0% and is 5 minutes = 8.333% wide.
    assert html.count('x="0.000%" y="6" width="8.333%"') == 2
    assert 'id="work-records"' in html and "电池耗尽" in html
    assert "无证经营" in html and "配合" in html
    assert reverse("custody_report", args=["activity", activity.pk]) in html
    assert "<script>" not in html and " style=" not in html


def test_act5_a_gap_within_the_tolerance_is_labelled_so(site, client, login):
    ns = site()
    activity, _recs = make_activity(ns, devices=1, per_device=2, gap_minutes=0)
    late = f.RecordingFactory(device=_recs[0].device, activity=activity,
                              attribution="attributed", queue_reason="",
                              started_at=_recs[-1].ended_at + timedelta(seconds=10),
                              ended_at=activity.departed_at)
    segments.recompute(activity.pk, late.device_id)
    engine.run(ns.agency)
    assert not Finding.objects.filter(rule_id="ACT-5.gap").exists()
    login(ns.people["unit_head"])
    html = page(client, activity)
    # one device: the 10 s hole is both uncovered time and the device's interruption
    assert re.findall(r'<tr id="gap-\d+" class="([^"]+)"', html) == ["gap-within"] * 2


def queries(client, activity) -> int:
    with CaptureQueriesContext(connection) as ctx:
        page(client, activity)
    return len(ctx.captured_queries)


def test_act2_the_activity_page_query_count_does_not_grow_with_segments(site, client, login):
    ns = site()
    small, _ = make_activity(ns, devices=1, per_device=2)
    big, _ = make_activity(ns, devices=6, per_device=12)
    engine.run(ns.agency)
    assert Finding.objects.filter(status=FindingStatus.OPEN).count() > 10
    login(ns.people["unit_head"])
    few, many = queries(client, small), queries(client, big)
    assert few == many, (few, many)
    assert many <= 24


@pytest.mark.browser
def test_act2_the_timeline_fits_1366_and_tablet_widths_in_chromium(
        browser, live_server, transactional_db, site, tmp_path):
    """Issue 8 item 7: the timeline is readable at 1366×768 and at tablet width — no
    sideways scrolling, every lane as wide as its row; no console error."""
    from witness.web.tests.test_browser import log_in

    ns = site()
    activity, recs = make_activity(ns, devices=3, per_device=4)
    engine.run(ns.agency)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{live_server.url}/login/")
    log_in(page, live_server.url, ns.people["unit_head"].user)
    for width, height in ((1366, 768), (768, 1024)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}{reverse('activity_detail', args=[activity.pk])}")
        lanes = page.locator("svg.timeline-lane")
        assert lanes.count() == 1 + 1 + 3  # axis, all devices, one per device
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        box = lanes.nth(2).bounding_box()
        assert box["width"] > width * 0.5 and box["x"] + box["width"] <= width
        first = page.locator(f'[data-segment="{recs[0].pk}"] rect').bounding_box()
        assert first["width"] > 5  # 5 minutes of an hour: a visible bar
        page.screenshot(path=str(tmp_path / f"activity-{width}.png"), full_page=True)
    assert problems == []
    context.close()
