"""The activity page's timeline (issue 8 item 2; ACT-2, ACT-3, ACT-5 B16).

Every segment of every device drawn against arrival→departure, computed here in Python as
percentages of the axis and drawn by the template as SVG attributes (no script, no style
attribute). Two kinds of gap are drawn, each labelled with the status of its finding:

* a device's **interruption**: the time between a segment and the device's previous one
  (``Recording.gap_before_seconds``, kept by :mod:`witness.recordings.segments`); its
  finding is ``ACT-5.gap`` on the recording after the gap;
* **uncovered time**: the parts of arrival→departure that no audio or video recording of
  any device covers; their finding is ``ACT-3.coverage`` on the activity.

A gap with no finding the viewer may see is "within the tolerance" when it is no longer
than the profile's tolerance, else "no finding yet" (the rules decide once the upload time
has passed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

from witness.recordings.models import MediaKind

GAP_RULE, COVERAGE_RULE = "ACT-5.gap", "ACT-3.coverage"
WITHIN, NO_FINDING = "within", "none"
STATUS_TEXT = {WITHIN: _("within the tolerance"), NO_FINDING: _("no finding yet")}


def _pct(value: float) -> str:
    """A percentage for an SVG attribute, with a dot whatever the language."""
    return f"{max(0.0, min(100.0, value)):.3f}%"


def _tolerance(profile, kind: str) -> float:
    return getattr(profile, f"{kind}_tolerance_seconds", 0) if profile is not None else 0


@dataclass
class Gap:
    number: int
    start: datetime
    end: datetime
    kind: str  # "device" or "coverage"
    device: str = ""
    recording_id: int | None = None  # the segment after an interruption
    finding: object = None
    state: str = NO_FINDING
    x: str = "0%"
    width: str = "0%"
    mid: str = "0%"

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def status(self) -> str:
        if self.finding is not None:
            return self.finding.get_status_display()
        return str(STATUS_TEXT[self.state])

    @property
    def css(self) -> str:
        return f"gap-{self.finding.status}" if self.finding is not None else f"gap-{self.state}"


@dataclass
class Segment:
    recording: object
    start: datetime
    end: datetime
    x: str = "0%"
    width: str = "0%"


@dataclass
class Lane:
    device: str
    holders: list[str] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    photos: list[Segment] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


@dataclass
class Timeline:
    start: datetime
    end: datetime
    arrival_x: str
    departure_x: str
    span_width: str
    lanes: list[Lane]
    coverage: list[Gap]
    untimed: list  # recordings without a start: not on the axis
    ticks: list[tuple[str, datetime]]

    @property
    def gaps(self) -> list[Gap]:
        return sorted(self.coverage + [g for lane in self.lanes for g in lane.gaps],
                      key=lambda g: g.number)


def _uncovered(arrived, departed, spans) -> list[tuple[datetime, datetime]]:
    """The parts of arrival→departure no span covers."""
    out, cursor = [], arrived
    for start, end in sorted(spans):
        start, end = max(start, arrived), min(end, departed)
        if start >= end:
            continue
        if start > cursor:
            out.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < departed:
        out.append((cursor, departed))
    return out


def build(activity, recordings, findings, profile) -> Timeline:
    """The timeline of ``activity`` from its ``recordings`` (device and holder loaded),
    the ``findings`` the viewer may see (``ACT-5.gap`` on the recordings, ``ACT-3.coverage``
    on the activity) and the profile in force at arrival (the tolerances)."""
    timed = [r for r in recordings if r.started_at is not None]
    ends = {r.pk: r.ended_at or r.started_at for r in timed}
    start = min([activity.arrived_at, *(r.started_at for r in timed)])
    end = max([activity.departed_at, *ends.values()])
    total = max((end - start).total_seconds(), 1.0)

    def at(moment) -> float:
        return 100.0 * (moment - start).total_seconds() / total

    def place(item, a, b):
        item.x, item.width = _pct(at(a)), _pct(max(at(b) - at(a), 0.25))
        return item

    by_recording = {f.object_id: f for f in findings if f.rule_id == GAP_RULE}
    coverage_finding = next((f for f in findings if f.rule_id == COVERAGE_RULE), None)
    lanes: dict[str, Lane] = {}
    for rec in timed:
        serial = rec.device.serial if rec.device_id else str(_("no device"))
        lane = lanes.setdefault(serial, Lane(device=serial))
        holder = rec.holder.name if rec.holder_id else ""
        if holder and holder not in lane.holders:
            lane.holders.append(holder)
        item = place(Segment(rec, rec.started_at, ends[rec.pk]), rec.started_at, ends[rec.pk])
        (lane.photos if rec.kind == MediaKind.PHOTO else lane.segments).append(item)

    number = 0
    av = [(r.started_at, ends[r.pk]) for r in timed if r.kind != MediaKind.PHOTO]
    coverage = []
    for a, b in _uncovered(activity.arrived_at, activity.departed_at, av):
        number += 1
        gap = place(Gap(number, a, b, "coverage", finding=coverage_finding), a, b)
        if coverage_finding is None and gap.seconds <= _tolerance(profile, 'coverage'):
            gap.state = WITHIN
        coverage.append(gap)
    for lane in lanes.values():
        covered_until = None
        for seg in lane.segments:
            rec = seg.recording
            if covered_until is not None and rec.started_at > covered_until:
                number += 1
                gap = place(Gap(number, covered_until, rec.started_at, "device",
                                device=lane.device, recording_id=rec.pk,
                                finding=by_recording.get(rec.pk)), covered_until, rec.started_at)
                if gap.finding is None and gap.seconds <= _tolerance(profile, 'gap'):
                    gap.state = WITHIN
                lane.gaps.append(gap)
            covered_until = seg.end if covered_until is None else max(covered_until, seg.end)
    for gap in coverage + [g for lane in lanes.values() for g in lane.gaps]:
        gap.mid = _pct(at(gap.start + (gap.end - gap.start) / 2))
    step = max(total / 6, 60.0)
    ticks = [(_pct(at(start + timedelta(seconds=step * i))), start + timedelta(seconds=step * i))
             for i in range(int(total // step) + 1)]
    return Timeline(start, end, _pct(at(activity.arrived_at)), _pct(at(activity.departed_at)),
                    _pct(at(activity.departed_at) - at(activity.arrived_at)),
                    list(lanes.values()), coverage,
                    [r for r in recordings if r.started_at is None], ticks)
