"""The demo week's footage: body-camera volumes made with ffmpeg, ingested like real ones.

For every activity of the demo agency whose camera is back in the ledger (today's is still
with its officer, so nothing of it can be docked yet), ``load`` writes a temporary volume the
way the camera would show it (``DEVICE.TXT``; ``DCIM/100MEDIA/SERIAL_BADGE_YYYYMMDDhhmmss_SEQ
.MP4`` in device-local time, i.e. true time plus the clock drift of the pre-use check) and
hands it to ``witness.ingest.services.ingest_volume`` with ``wipe`` (the real pipeline, the
configured storage backend, audit actor ``system:demo``); the emptied folders are removed.

Time is not compressed: the camera runs from a minute before arrival to a minute after
departure, in segments of at most 15 minutes, and each file lasts as long as its name says
(a 1 frame/s test pattern at 160x120 with silent sound, about 0.4 MB per 15 minutes; see
``witness.demo.media``). The first segment of each activity carries the profile's
notification phrase spoken by espeak-ng (voice ``cmn-latn-pinyin``) a few seconds in.

The variety the compliance pages need, decided from the data so that it is the same at any
hour the demo is loaded:

- most activities are covered end to end and handed over on time;
- the one camera of model ``DSJ-A8`` records H.265;
- two activities miss a minute and a half between two segments (``GAP_SECONDS``);
- one activity at least ``LATE_AFTER`` old is handed over late: it is ingested last, now;
- two photos (EXIF time) on the first activity and one on another; one recorder WAV (speech,
  time from the file's modification time) on a third.

Handing over on time: the ingest pipeline stamps a recording with the moment it ran. The
demo places each on-time volume's run at the docking moment, five minutes after the camera
was returned in the ledger, by dating the run, its files and its recordings
(``IngestRun.started_at``/``finished_at``, ``IngestItem.finished_at``,
``Recording.ingested_at``) back to it; the audit log keeps the real time the demo ran. The
late activity's run is left at the real time, a day or more after its departure (ING-2).

Idempotent: a volume whose device already has a recording in the activity's time window is
not made again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.activities.models import Activity
from witness.core.errors import WitnessError
from witness.devices.models import Device, DeviceIssue, PreUseCheck
from witness.ingest.naming import format_name
from witness.org.models import Agency
from witness.profiles import services as profiles
from witness.recordings.models import IngestItem, IngestRun, Recording
from witness.testing.media import espeak_wav, make_photo

from . import media

ACTOR = "system:demo"
TOOLS = ("ffmpeg", "ffprobe", "espeak-ng")
VOICE = "cmn-latn-pinyin"
QUESTION = "请出示您的营业执照和进货票据。"  # the recorder WAV: "show your licence and invoices"

SEGMENT_SECONDS = 15 * 60  # the camera starts a new file every 15 minutes
LEAD = timedelta(minutes=1)  # switched on before arrival, off after departure
GAP_SECONDS = 90  # the "missing minute" of two activities
HEVC_MODELS = frozenset({"DSJ-A8"})
DOCKING_DELAY = timedelta(minutes=5)  # docked this long after the camera is returned
LATE_AFTER = timedelta(hours=36)  # ING-2 allows 24 h after departure


@dataclass
class Piece:
    """One video segment: true start, device-local name, length."""

    start: datetime
    name: str
    seconds: int
    speech: bool
    device_start: datetime  # aware, as the device clock showed it (creation_time)


@dataclass
class Still:
    """A photo or a WAV: where on the volume and the device-local moment."""

    name: str
    device_time: datetime  # naive, device-local (EXIF); for a WAV, the end (mtime)
    mtime: float | None = None


@dataclass
class Plan:
    activity: Activity
    issue: DeviceIssue
    device: Device
    badge: str
    drift: int
    codec: str = "h264"
    gap: bool = False
    late: bool = False
    photo_count: int = 0
    with_wav: bool = False
    window: tuple[datetime, datetime] | None = None
    pieces: list[Piece] = field(default_factory=list)
    photos: list[Still] = field(default_factory=list)
    wav: Still | None = None

    @property
    def docked_at(self) -> datetime | None:
        """When the run is dated: the docking after the return; None (now) when late."""
        if self.late or self.issue.returned_at is None:
            return None
        return self.issue.returned_at + DOCKING_DELAY


@dataclass
class Loaded:
    state: str  # "created", "already present", "skipped"
    reason: str = ""
    volumes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"state": self.state, "reason": self.reason, "volumes": self.volumes,
                "files": self.counts, "seconds": round(self.seconds, 1)}


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def _device_naive(at: datetime, drift: int) -> datetime:
    """What the device clock showed at true moment ``at``, as local naive time."""
    return timezone.localtime(at + timedelta(seconds=drift)).replace(tzinfo=None)


def _drift(issue: DeviceIssue) -> int:
    check = (PreUseCheck.objects.filter(issue=issue).order_by("-checked_at", "-id")
             .values_list("drift_seconds", flat=True).first())
    return check or 0


def _docked_plans(agency: Agency) -> list[Plan]:
    """One plan per activity whose recorder's camera has been returned, oldest first."""
    plans = []
    activities = (Activity.objects.filter(agency=agency).order_by("arrived_at", "id")
                  .prefetch_related("officers__person"))
    for activity in activities:
        recorder = next((o.person for o in activity.officers.all() if o.is_recorder), None)
        if recorder is None:
            continue
        issue = (DeviceIssue.objects.filter(holder=recorder, issued_at__lte=activity.arrived_at,
                                            returned_at__gte=activity.departed_at,
                                            device__kind="body_camera")
                 .select_related("device").order_by("-issued_at", "-id").first())
        if issue is None:  # still out with its officer: nothing docked yet
            continue
        plans.append(Plan(activity, issue, issue.device, recorder.badge_number or "0",
                          _drift(issue)))
    return plans


def _choose(plans: list[Plan], now: datetime) -> None:
    """Which activity gets which variety (see the module docstring)."""
    for p in plans:
        if p.device.model in HEVC_MODELS:
            p.codec = "hevc"
    others = [p for p in plans if p.codec == "h264"]
    if len(others) >= 4:
        others[1].gap = others[-2].gap = True
    late = [p for p in others if not p.gap and p.activity.departed_at <= now - LATE_AFTER]
    if late:
        late[-1].late = True
    if others:
        others[0].photo_count = 2
    if len(others) > 3:
        others[3].photo_count = 1
    plain = [p for p in others[2:] if not p.gap and not p.late]
    if plain:
        plain[0].with_wav = True


def _lay_out(plans: list[Plan]) -> None:
    """Names and times of every file, numbered per device in time order."""
    seq: dict[int, int] = defaultdict(int)
    photo_no: dict[int, int] = defaultdict(int)
    for p in plans:
        start, end = p.activity.arrived_at - LEAD, p.activity.departed_at + LEAD
        p.window = (start, end)
        at = start
        while at < end:
            seconds = min(SEGMENT_SECONDS, int((end - at).total_seconds()))
            seq[p.device.pk] += 1
            shown = _device_naive(at, p.drift)
            name = format_name(p.device.serial, p.badge, shown, seq[p.device.pk])
            p.pieces.append(Piece(at, f"DCIM/100MEDIA/{name}", seconds, not p.pieces,
                                  timezone.make_aware(shown)))
            at += timedelta(seconds=seconds)
            if p.gap and len(p.pieces) == 1:
                at += timedelta(seconds=GAP_SECONDS)
        for i in range(p.photo_count):
            photo_no[p.device.pk] += 1
            moment = p.activity.arrived_at + timedelta(minutes=10 + 2 * i, seconds=17)
            p.photos.append(Still(f"PHOTO/IMG_{photo_no[p.device.pk]:04d}.JPG",
                                  _device_naive(moment, p.drift)))
        if p.with_wav:
            end_at = p.activity.arrived_at + timedelta(minutes=20)
            p.wav = Still("录音/现场询问.wav", _device_naive(end_at, p.drift),
                          (end_at + timedelta(seconds=p.drift)).timestamp())


def plan(agency: Agency, now: datetime | None = None) -> list[Plan]:
    """Every volume of the demo week, whether ingested already or not."""
    plans = _docked_plans(agency)
    _choose(plans, now or timezone.now())
    _lay_out(plans)
    return plans


def _already_ingested(p: Plan) -> bool:
    start, end = p.window
    return Recording.objects.filter(device=p.device, started_at__gte=start - LEAD,
                                    started_at__lte=end).exists()


# --- making the files (no database: runs in worker threads) --------------------------------

@dataclass
class Stock:
    speech: Path
    question: Path
    video: dict[str, Path]


def _write_volume(p: Plan, root: Path, stock: Stock) -> Path:
    dcim = root / "DCIM" / "100MEDIA"
    dcim.mkdir(parents=True)
    (root / "DEVICE.TXT").write_text(f"SERIAL={p.device.serial}\nMODEL={p.device.model}\n"
                                     f"BADGE={p.badge}\n")
    for piece in p.pieces:
        title = f"{p.device.serial} {Path(piece.name).stem}"
        base = stock.video[p.codec]
        if piece.speech:
            media.with_speech(base, stock.speech, root / piece.name, piece.seconds, title=title,
                              creation_time=piece.device_start)
        else:
            media.cut(base, root / piece.name, piece.seconds, title=title,
                      creation_time=piece.device_start)
    for photo in p.photos:
        (root / photo.name).parent.mkdir(exist_ok=True)
        make_photo(root / photo.name, exif_datetime=photo.device_time, size=media.SIZE)
    if p.wav is not None:
        path = root / p.wav.name
        path.parent.mkdir(exist_ok=True)
        shutil.copyfile(stock.question, path)
        os.utime(path, (p.wav.mtime, p.wav.mtime))
    return root


def _make_stock(folder: Path, codecs: set[str], phrase: str, pool) -> Stock:
    stock = Stock(folder / "notice.wav", folder / "question.wav",
                  {c: folder / f"stock-{c}.mp4" for c in codecs})
    jobs = [pool.submit(media.base, path, SEGMENT_SECONDS, codec)
            for codec, path in stock.video.items()]
    espeak_wav(stock.speech, phrase, voice=VOICE)
    espeak_wav(stock.question, QUESTION, voice=VOICE)
    for job in jobs:
        job.result()
    return stock


# --- ingesting ------------------------------------------------------------------------------

def _date_back(run: IngestRun, at: datetime) -> None:
    """Place an on-time run at its docking moment (see the module docstring)."""
    took = (run.finished_at or run.started_at) - run.started_at
    Recording.objects.filter(ingest_run=run).update(ingested_at=at)
    IngestItem.objects.filter(run=run).update(finished_at=at + took)
    IngestRun.objects.filter(pk=run.pk).update(started_at=at, finished_at=at + took)


def _ingest(p: Plan, root: Path, now: datetime) -> IngestRun:
    from witness.ingest.services import ingest_volume

    run = ingest_volume(root, wipe=True, actor=ACTOR)
    at = p.docked_at
    if at is not None:
        _date_back(run, min(at, now))
    return run


def load(agency: Agency, now: datetime | None = None) -> Loaded:
    """Make and ingest every demo volume not ingested yet; what happened, with timing."""
    began = time.monotonic()
    missing = missing_tools()
    if missing:
        return Loaded("skipped", str(_("not installed: %(tools)s") % {
            "tools": ", ".join(missing)}))
    now = now or timezone.now()
    todo = [p for p in plan(agency, now) if not _already_ingested(p)]
    if not todo:
        return Loaded("already present", seconds=time.monotonic() - began)
    todo.sort(key=lambda p: (p.late, p.activity.arrived_at))  # the late one last
    profile = profiles.in_force(agency, now)[1]
    counts: dict[str, int] = defaultdict(int)
    workers = max(1, min(4, os.cpu_count() or 1))
    try:
        with tempfile.TemporaryDirectory(prefix="witness-demo-") as tmp, \
                ThreadPoolExecutor(max_workers=workers) as pool:
            folder = Path(tmp)
            stock = _make_stock(folder, {p.codec for p in todo}, profile.notification_phrase,
                                pool)
            volumes = [pool.submit(_write_volume, p, folder / f"{i:02d}-{p.device.serial}",
                                   stock) for i, p in enumerate(todo)]
            for p, volume in zip(todo, volumes, strict=True):
                run = _ingest(p, volume.result(), now)
                for outcome, n in (run.counts or {}).items():
                    counts[outcome] += n
    except (OSError, WitnessError, subprocess.SubprocessError) as exc:
        raise WitnessError(_("The demo recordings could not be made: %(problem)s"),
                           code="demo_media_failed", problem=str(exc)) from exc
    return Loaded("created", volumes=len(todo), counts=dict(counts),
                  seconds=time.monotonic() - began)
