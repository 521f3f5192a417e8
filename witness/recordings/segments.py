"""Segments and gaps (issue 3 item 4, ACT-5, B16).

Within one activity, each device's audio/video recordings are put in time order; the first
is segment 1, and every later one stores the gap since the end of the device's previous
segment (overlaps count as no gap). Photos are moments, not segments. The compliance rules
compare the gaps with the profile's tolerance.
"""

from __future__ import annotations

from decimal import Decimal

from .models import MediaKind, Recording


def recompute(activity_id: int | None, device_id: int | None) -> int:
    """Number the segments of one device in one activity and store their gaps; return how
    many rows changed. Recordings without a start are left out (they are in the queue)."""
    if activity_id is None or device_id is None:
        return 0
    rows = list(Recording.objects.filter(activity_id=activity_id, device_id=device_id)
                .exclude(kind=MediaKind.PHOTO).exclude(started_at__isnull=True)
                .order_by("started_at", "id")
                .only("id", "started_at", "ended_at", "segment_index", "gap_before_seconds"))
    changed = []
    covered_until = None
    for index, rec in enumerate(rows, start=1):
        gap = None
        if covered_until is not None:
            seconds = (rec.started_at - covered_until).total_seconds()
            gap = Decimal(max(seconds, 0)).quantize(Decimal("0.001"))
        if rec.segment_index != index or rec.gap_before_seconds != gap:
            rec.segment_index, rec.gap_before_seconds = index, gap
            changed.append(rec)
        end = rec.ended_at or rec.started_at
        covered_until = end if covered_until is None else max(covered_until, end)
    Recording.objects.bulk_update(changed, ["segment_index", "gap_before_seconds"])
    return len(changed)


def clear(recording: Recording) -> None:
    """A recording leaving an activity is no segment of it any more."""
    if recording.segment_index is not None or recording.gap_before_seconds is not None:
        recording.segment_index = recording.gap_before_seconds = None
        recording.save(update_fields=["segment_index", "gap_before_seconds"])
