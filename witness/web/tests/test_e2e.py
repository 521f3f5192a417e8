"""The end-to-end suite of issue 8 ("Done when"), in Debian's Chromium driven by playwright:
every role logs in; the custodian issues a device with its pre-use check (DEV-3, DEV-4) and
uploads the device's files through the upload page (ING-1); the activity shows them with
the gap between them (ACT-5); a viewing request goes through the chain, each approver in
a browser session of their own, and is registered (EVD-2); the requester plays a recording
of more than 20 MB and seeks into its last quarter (the server answers 206); the officer
explains the gap finding and the unit head accepts it (B16); an export is requested
(EVD-1, EVD-3).

Every page: no console error, no uncaught script error, no answer ≥ 500 and no request to
any host but the server (e2e_support.Session). Screenshots of each main page are kept in
``$WITNESS_ARTIFACTS`` (default ``test-artifacts/screenshots/``).

Steps that wait for pages still being built are listed in ``AWAITING``; each one's check
fails as soon as its page appears, so that the step is finished here rather than forgotten.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import get_resolver, reverse
from django.utils import timezone

from witness.access.models import AccessRequest, Grant, RequestStatus, Step, StepState
from witness.compliance import checks
from witness.devices.models import DeviceIssue, PreUseCheck
from witness.findings.models import Finding
from witness.org.models import Role
from witness.recordings.models import Attribution, Recording
from witness.testing import factories as f
from witness.testing.media import ffmpeg_available, make_photo, make_video
from witness.web.tests.e2e_support import MB, Session, big_video

pytestmark = pytest.mark.browser

BIG_MB = 21
GAP_SECONDS = 60  # between the two segments: above the profile's 30 s tolerance (ACT-5)


# -- steps awaiting pages of other parts of issue 8 --------------------------------------

def _export_pages() -> list[str]:
    """URL names of export pages other than the CSV/PDF downloads of lists."""
    names = [n for n in get_resolver().reverse_dict if isinstance(n, str)]
    return sorted(n for n in names if "export" in n and not n.endswith(("_csv", "_pdf")))


AWAITING: dict = {
    # step: (what it waits for, how to tell that it is there)
}


def awaiting(step: str) -> bool:
    """True while ``step``'s page is not built; fails once it is (finish the step then)."""
    if step not in AWAITING:
        return False
    what, built = AWAITING[step]
    assert not built(), (f"{what} exists now: write the '{step}' step of test_e2e.py "
                         f"and remove it from AWAITING")
    return True


# -- the world ---------------------------------------------------------------------------


@pytest.fixture
def world(site, settings, tmp_path):
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe missing; `make install` installs them")
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    ns = site()
    ns.officer, ns.head = ns.people["officer"], ns.people["unit_head"]
    ns.leader, ns.custodian = ns.people["leader"], ns.people["custodian"]
    ns.device = f.DeviceFactory(unit=ns.field, serial="DSJ-E2E-1")
    now = timezone.now()
    ns.case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.leader)
    ns.activity = f.ActivityFactory(unit=ns.field, case=ns.case, place="鲁山县人民路8号",
                                    arrived_at=now - timedelta(minutes=5),
                                    departed_at=now + timedelta(minutes=40))
    f.ActivityOfficerFactory(activity=ns.activity, person=ns.officer, is_recorder=True)
    ns.tmp = tmp_path
    return ns


def minute(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


# -- the steps ---------------------------------------------------------------------------


def every_role_logs_in(browser, base, ns) -> dict[str, Session]:
    sessions = {}
    for role in Role:
        s = Session(browser, base, ns.people[role.value], role=role.value)
        s.log_in()
        s.shot("home")
        assert s.page.locator("main").count() == 1
        s.check("home")
        sessions[role.value] = s
    return sessions


def issue_with_pre_use_check(custodian: Session, ns) -> DeviceIssue:
    """DEV-3 + DEV-4: the issue form carries the check; the device clock is read as shown."""
    page = custodian.page
    custodian.go(reverse("device_issue", args=[ns.device.pk]))
    page.select_option("select[name=holder]", str(ns.officer.pk))
    page.fill("input[name=purpose]", "现场检查")
    page.fill("input[name=battery_percent]", "95")
    page.fill("input[name=free_storage_mb]", "30000")
    custodian.shot("device-issue")
    page.click("main button[type=submit].button-primary")
    page.wait_for_url(f"{custodian.base}{reverse('device_detail', args=[ns.device.pk])}")
    custodian.shot("device-detail")
    custodian.check("device issue")
    issue = DeviceIssue.objects.get(device=ns.device, returned_at__isnull=True)
    assert issue.holder == ns.officer
    check = PreUseCheck.objects.get(device=ns.device)
    assert check.battery_percent == 95 and abs(check.drift_seconds) <= 5
    return issue


def upload_the_devices_files(custodian: Session, ns, issued_at) -> list[Recording]:
    """ING-1 through the upload page: two segments with a gap between them and a photo,
    timed after the issue (the device's ledger entry decides the holder)."""
    first_at = issued_at + timedelta(seconds=2)
    big = big_video(ns.tmp / "FILE_0001.MP4", seconds=8, megabytes=BIG_MB, start=first_at)
    second_at = first_at + timedelta(seconds=8 + GAP_SECONDS)
    small = make_video(ns.tmp / "FILE_0002.MP4", 3, creation_time=second_at)
    photo = make_photo(ns.tmp / "IMG_0003.JPG", exif_datetime=timezone.localtime(
        first_at + timedelta(seconds=20)).replace(tzinfo=None))
    page = custodian.page
    custodian.go(reverse("ingest_upload"), shot="upload")
    page.select_option("select[name=device]", str(ns.device.pk))
    page.set_input_files("input[name=files]", [str(big), str(small), str(photo)])
    page.click("main button[type=submit].button-primary")
    page.wait_for_url("**/ingest/runs/*/", timeout=60_000)
    custodian.shot("ingest-run")
    custodian.check("upload")
    recordings = list(Recording.objects.filter(device=ns.device).order_by("started_at"))
    assert [r.source_path for r in recordings] == ["FILE_0001.MP4", "IMG_0003.JPG",
                                                    "FILE_0002.MP4"]
    for r in recordings:
        assert r.attribution == Attribution.ATTRIBUTED, (r.source_path, r.queue_reason)
        assert r.activity_id == ns.activity.pk and r.holder_id == ns.officer.pk
    assert recordings[0].blob.size >= BIG_MB * MB
    assert recordings[2].gap_before_seconds >= GAP_SECONDS - 1
    return recordings


def the_gap_is_found(ns) -> Finding:
    """What the worker runs after an ingest (compliance.checks, queued on commit)."""
    checks.check_activities([ns.activity.pk])
    finding = Finding.objects.get(rule_id="ACT-5.gap")
    assert finding.responsible_id == ns.officer.pk
    return finding


def the_activity_shows_them(officer: Session, ns, recordings, finding) -> None:
    """Issue 8 item 2: the device's lane draws both segments and the photo; the
    interruption between the segments is drawn, numbered and listed with its finding's
    status (ACT-5)."""
    page = officer.page
    officer.go(reverse("activity_detail", args=[ns.activity.pk]), shot="activity")
    for r in recordings:
        assert page.locator(f"#recording-{r.pk}").count() == 1
    lane = page.locator(f"#timeline [data-lane='{ns.device.serial}']")
    first, photo, second = recordings
    for r in (first, second):
        assert lane.locator(f"[data-segment='{r.pk}']").count() == 1
    assert lane.locator(f"[data-photo='{photo.pk}']").count() == 1
    gaps = lane.locator("[data-gap]")
    assert gaps.count() == 1
    number = gaps.first.get_attribute("data-gap")
    row = page.locator(f"#gaps #gap-{number}")
    assert ns.device.serial in row.inner_text()
    assert GAP_SECONDS - 1 <= float(row.locator("td").nth(4).inner_text()) <= GAP_SECONDS + 1
    status = row.locator("[data-gap-status] a")
    assert status.get_attribute("href") == reverse("finding_detail", args=[finding.pk])
    assert status.inner_text() == str(finding.get_status_display())
    officer.check("activity")


def request_approve_register(sessions, ns, recordings) -> AccessRequest:
    """EVD-2: requester, unit head, leader in charge, custodian — each in their own
    browser session; the inbox decisions swap the row without a reload (HTMX)."""
    officer = sessions["officer"]
    page = officer.page
    officer.go(reverse("request_new") + f"?activity={ns.activity.pk}", shot="request-new")
    for r in recordings:
        assert f"#{r.pk} " in page.locator("#request-recordings").inner_text()
    now = timezone.now()
    page.fill("textarea[name=reason]", "复核现场检查过程")
    page.fill("input[name=wanted_from]", minute(now - timedelta(minutes=1)))
    page.fill("input[name=wanted_until]", minute(now + timedelta(days=1)))
    page.click("main button[type=submit].button-primary")
    page.wait_for_url(f"{officer.base}/requests/*/")
    req = AccessRequest.objects.get(requester=ns.officer)
    officer.shot("request-detail")
    officer.check("request")

    for role in ("unit_head", "leader"):
        approver = sessions[role]
        step = req.steps.get(state=StepState.OPEN)
        approver.go(reverse("inbox"), shot="inbox")
        row = approver.page.locator(f"#step-{step.pk}")
        approver.page.evaluate("() => { window.__sameDocument = true; }")
        row.locator("button[name=decision][value=approve]").click()
        approver.page.locator(f"#step-{step.pk} .inline-ok").wait_for(timeout=10_000)
        assert approver.page.evaluate("() => window.__sameDocument === true")  # no reload
        step.refresh_from_db()
        assert step.state == StepState.APPROVED and step.decided_by == ns.people[role]
        approver.check("inbox")

    custodian = sessions["custodian"]
    step = req.steps.get(state=StepState.OPEN)
    assert step.step == Step.CUSTODIAN_REGISTRATION
    custodian.go(reverse("step_register", args=[step.pk]), shot="register-step")
    custodian.page.click("main button[name=decision][value=approve]")
    custodian.page.wait_for_url(f"{custodian.base}{reverse('request_detail', args=[req.pk])}")
    custodian.go(reverse("register"), shot="viewing-register")
    custodian.check("registration")
    req.refresh_from_db()
    assert req.status == RequestStatus.GRANTED
    assert set(Grant.objects.filter(request=req, person=ns.officer)
               .values_list("recording_id", flat=True)) == {r.pk for r in recordings}
    return req


def play_and_seek(viewer: Session, recording) -> None:
    """The player streams the 20 MB original with range requests; a seek into the last
    quarter is answered with 206 and leaves the video ready to play there."""
    stream = reverse("recording_stream", args=[recording.pk])
    answers = []
    viewer.page.on("response", lambda r: answers.append((r.status, r.request.headers.get(
        "range"))) if stream in r.url else None)
    viewer.go(reverse("recording_play", args=[recording.pk]))
    page = viewer.page
    page.wait_for_function("() => document.querySelector('video').readyState >= 1",
                           timeout=15_000)
    duration = page.evaluate("() => document.querySelector('video').duration")
    assert 7.5 <= duration <= 8.5
    target = duration * 0.8
    page.evaluate("""(t) => new Promise((done, fail) => {
        const v = document.querySelector('video');
        v.muted = true;
        v.addEventListener('seeked', () => done(), {once: true});
        v.addEventListener('error', () => fail(new Error('media error')), {once: true});
        v.currentTime = t;
    })""", target)
    page.wait_for_function("() => document.querySelector('video').readyState >= 2",
                           timeout=15_000)
    state = page.evaluate("""() => { const v = document.querySelector('video');
        return {t: v.currentTime, ready: v.readyState, error: v.error && v.error.code}; }""")
    assert state["error"] is None
    assert state["ready"] >= 2
    assert state["t"] >= duration * 0.75 and abs(state["t"] - target) < 1.0
    viewer.shot("player")
    assert any(status == 206 and rng for status, rng in answers), answers
    viewer.check("player")


def explain_and_accept(sessions, finding) -> None:
    """B16: the officer explains the interruption; the unit head accepts (HTMX panel)."""
    officer, head = sessions["officer"], sessions["unit_head"]
    officer.go(reverse("finding_detail", args=[finding.pk]), shot="finding")
    officer.page.fill("#finding-workflow textarea[name=text]", "电池耗尽，更换电池后继续录制。")
    officer.page.click("#finding-workflow button.button-primary")
    officer.page.locator("#finding-workflow .inline-ok").wait_for(timeout=10_000)
    finding.refresh_from_db()
    assert finding.status == "explained"
    officer.check("explain")
    head.go(reverse("finding_detail", args=[finding.pk]))
    head.page.click("#finding-workflow button[name=decision][value=accept]")
    head.page.locator("#finding-workflow .inline-ok").wait_for(timeout=10_000)
    head.shot("finding-accepted")
    finding.refresh_from_db()
    assert finding.status == "accepted"
    head.check("decide")
    # the timeline labels the gap with the decision
    officer.go(reverse("activity_detail", args=[finding.details["activity"]]))
    link = officer.page.locator(
        f"#gaps [data-gap-status] a[href='{reverse('finding_detail', args=[finding.pk])}']")
    assert link.inner_text() == str(finding.get_status_display())
    officer.shot("activity-gap-accepted")
    officer.check("activity after the decision")


def request_an_export(sessions, ns, req) -> None:
    """EVD-3, EVD-1: the officer asks to give the activity's recordings to a court as an
    export package; once the chain approved it (decided here through the chain's service:
    the browser approvals are the viewing request's above), the custodian makes the package
    from the request's page (HTMX; the task runs at once with the immediate backend) and
    the officer downloads the tar, whose originals have their ingest digests and which
    verify-package accepts."""
    import hashlib
    import tarfile
    import tempfile
    from pathlib import Path

    from django.test import override_settings

    from witness.access import chain
    from witness.evidence import verify

    officer = sessions["officer"]
    page = officer.page
    officer.go(reverse("disclosure_new") + f"?activity={ns.activity.pk}",
               shot="disclosure-new")
    now = timezone.now()
    page.fill("textarea[name=reason]", "人民法院调取证据")
    page.fill("input[name=wanted_from]", minute(now - timedelta(minutes=1)))
    page.fill("input[name=wanted_until]", minute(now + timedelta(days=1)))
    page.select_option("select[name=recipient_kind]", "court")
    page.fill("input[name=recipient_name]", "鲁山县人民法院")
    page.select_option("select[name=delivery]", "package")
    page.click("main button[type=submit].button-primary")
    page.wait_for_url(f"{officer.base}/requests/*/")
    disclosure = AccessRequest.objects.get(requester=ns.officer, kind="disclosure")
    while disclosure.steps.filter(state=StepState.OPEN).exists():
        step = disclosure.steps.get(state=StepState.OPEN)
        chain.decide(step, chain.deciders(step).first(), True, "同意", actor="test")
    home = Path(tempfile.mkdtemp(prefix="witness-e2e-export-"))
    immediate = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with override_settings(TASKS=immediate, WITNESS_HOME=home):
        custodian = sessions["custodian"]
        custodian.go(reverse("request_detail", args=[disclosure.pk]))
        custodian.page.click("#request-package")
        custodian.page.wait_for_url(
            f"{custodian.base}{reverse('export_package', args=[disclosure.pk])}")
        custodian.page.click("#package-make")
        custodian.page.locator("#package-status[data-status=ready]").wait_for(timeout=60_000)
        custodian.shot("export-package")
        custodian.check("export package")
        officer.go(reverse("export_package", args=[disclosure.pk]))
        with page.expect_download() as caught:
            page.click("#package-download")
        tar = home / "fetched.tar"
        caught.value.save_as(tar)
        officer.check("export download")
    with tarfile.open(tar) as archive:
        archive.extractall(home / "fetched", filter="data")
    root = home / "fetched" / f"witness-request-{disclosure.pk}"
    assert verify.verify(root).ok
    originals = sorted((root / "data" / "originals").iterdir())
    assert len(originals) == len(list(Recording.objects.filter(activity=ns.activity)))
    for path in originals:
        rec = Recording.objects.select_related("blob").get(pk=int(path.name.split("-")[0]))
        with open(path, "rb") as fh:
            assert hashlib.file_digest(fh, "sha256").hexdigest() == rec.blob.sha256


def every_main_page_renders(sessions) -> None:
    """Issue 8 item 7 and "Done when": every page a role's navigation offers renders (200),
    with no console error and no request to another host, at 1366×768; a screenshot of each
    is kept. The dashboard draws its charts with the vendored uPlot, and the search answers
    a query."""
    for role, s in sessions.items():
        s.go("/")
        hrefs = s.page.eval_on_selector_all(
            "nav.site-nav a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert hrefs, role
        for href in dict.fromkeys(hrefs):
            s.go(href, shot="nav" + href.rstrip("/").replace("/", "-"))
        s.check(f"navigation pages {hrefs}")
    leader = sessions["leader"]
    leader.go(reverse("compliance_dashboard"))
    leader.page.wait_for_selector(".uplot canvas", timeout=10_000)
    assert leader.page.locator(".uplot").count() >= 4
    leader.shot("dashboard-charts")
    leader.page.fill("header input[name=q]", "DSJ")
    leader.page.press("header input[name=q]", "Enter")
    leader.page.wait_for_url("**/search/?q=DSJ**")
    leader.shot("search")
    leader.check("dashboard and search")


# -- the suite ---------------------------------------------------------------------------


def test_e2e_issue_ingest_timeline_approve_play_explain_export(
        browser, live_server, transactional_db, world):
    """Issue 8 "Done when" (DEV-3, DEV-4, ING-1, ACT-5, EVD-2, B16, EVD-1)."""
    base = live_server.url
    sessions = every_role_logs_in(browser, base, world)
    try:
        issue = issue_with_pre_use_check(sessions["custodian"], world)
        recordings = upload_the_devices_files(sessions["custodian"], world, issue.issued_at)
        finding = the_gap_is_found(world)
        the_activity_shows_them(sessions["officer"], world, recordings, finding)
        req = request_approve_register(sessions, world, recordings)
        big = recordings[0]
        play_and_seek(sessions["officer"], big)
        explain_and_accept(sessions, finding)
        request_an_export(sessions, world, req)
        every_main_page_renders(sessions)
        for s in sessions.values():
            s.check("end")
    finally:
        for s in sessions.values():
            s.close()
