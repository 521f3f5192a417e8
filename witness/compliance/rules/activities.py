"""Rules about activities (issue 6 item 1): the duty to record (ACT-1, ACT-3), the activity's
people and photos (ACT-2) and work records (ACT-4).

Each rule is one query per profile period (the version in force when the activity began),
computed by the database; Python only turns the breaches it returns into matches.

**When an activity can be decided.** Whether an activity's recordings are all there can be
decided only once the time to hand them over (ING-2, A13, B20) has passed: the profile's
normal limit after departure (``same_day``: 24 hours after departure, the latest the day of
departure can end), and for off-site, remote or continuous duty with a return time, the
exception limit after the return. Before then ``ACT-1.not_recorded``, ``ACT-3.coverage`` and
``ACT-2.no_evidence_photos`` say nothing about the activity (the recordings may still be on
the camera); the officer and recorder rules decide at once.
"""

from __future__ import annotations

from datetime import timedelta
from functools import reduce
from operator import or_

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from witness.activities.models import Activity, ActivityOfficer, EvidenceItem, WorkRecord
from witness.activities.work_records import review_required, valid_exemptions
from witness.findings.models import Severity
from witness.recordings.models import MediaKind, Recording

from . import Context, Match, Rule, Window, register

AV = (MediaKind.VIDEO, MediaKind.AUDIO)
# ACT-4: a work record the profile asks to be reviewed is a finding once it has waited
# this long without review.
REVIEW_WAIT = timedelta(days=7)


def _touched(ctx: Context):
    return ctx.activities()


def _upload_due(profile, now) -> Q:
    """The activities whose recordings had to be handed over by ``now`` (see the module
    docstring): every bound is a constant, so the condition uses the indexes."""
    hours = (profile.upload_normal_hours if profile.upload_normal == "hours_after_departure"
             else 24)
    due = Q(departed_at__lte=now - timedelta(hours=hours))
    flags = profile.upload_exception_flags
    if flags:
        flagged = reduce(or_, (Q(**{flag: True}) for flag in flags))
        due &= (~flagged | Q(returned_to_unit_at__isnull=True)
                | Q(returned_to_unit_at__lte=now - timedelta(hours=profile.upload_exception_hours)))
    return due


def _recorder():
    """The designated recorder of the activity (OuterRef pk), if any."""
    return Subquery(ActivityOfficer.objects.filter(activity=OuterRef("pk"), is_recorder=True)
                    .order_by().values("person_id")[:1])


def _av(**filters):
    return Recording.objects.filter(kind__in=AV, **filters)


def _base(ctx: Context, window: Window):
    return ctx.activities().filter(window.q("arrived_at")).order_by()


# -- ACT-1: a must-record activity with no recording -----------------------------------------

def not_recorded(ctx: Context, profile, window: Window):
    """A must-record activity (A6, B6) with no audio or video recording linked (photos do not
    count) and no exemption work record that counts (filed; reviewed where the profile asks,
    A12, B7)."""
    codes = profile.must_record_codes
    if not codes:
        return []
    rows = (_base(ctx, window)
            .filter(_upload_due(profile, ctx.now), activity_type__in=codes)
            .filter(~Exists(_av(activity=OuterRef("pk"))),
                    ~Exists(valid_exemptions(profile).filter(activity=OuterRef("pk"))))
            .annotate(recorder=_recorder())
            .values_list("pk", "unit_id", "arrived_at", "recorder", "activity_type"))
    return [Match(object_id=pk, details={"activity_type": kind}, person_id=recorder,
                  unit_id=unit_id, at=arrived)
            for pk, unit_id, arrived, recorder, kind in rows]


register(Rule(
    id="ACT-1.not_recorded", requirement="ACT-1", articles="A6, A8, B6, B14",
    title=_("A must-record activity has no recording and no exemption that counts"),
    subject="activities.activity", evaluate=not_recorded, touched=_touched,
    severity=Severity.SERIOUS))


# -- ACT-3: recordings that do not cover arrival to departure ---------------------------------

# Per backend: the difference of two timestamps in microseconds (exact on both: SQLite
# stores text and Django registers django_timestamp_diff on every SQLite connection), and
# the larger / smaller of two values.
_SQL = {
    "sqlite": {"diff": "django_timestamp_diff({0}, {1})", "max": "MAX", "min": "MIN"},
    "postgresql": {"diff": "(EXTRACT(EPOCH FROM ({0}) - ({1})) * 1000000)",
                   "max": "GREATEST", "min": "LEAST"},
}

_COVERAGE = """
WITH acts AS (
    SELECT a.{id} AS id, a.{arrived} AS arrived, a.{departed} AS departed
    FROM {activity} a WHERE a.{id} IN ({candidates})
), clipped AS (
    SELECT r.{activity_id} AS aid, r.{id} AS rid,
           {max}(r.{started}, acts.arrived) AS s, {min}(r.{ended}, acts.departed) AS e
    FROM {recording} r JOIN acts ON r.{activity_id} = acts.id
    WHERE r.{kind} IN (%s, %s) AND r.{started} IS NOT NULL AND r.{ended} IS NOT NULL
), ordered AS (
    SELECT aid, s, e, MAX(e) OVER (PARTITION BY aid ORDER BY s, e, rid
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM clipped WHERE s < e
), covered AS (
    SELECT aid, SUM(CASE WHEN before IS NULL OR before <= s THEN {diff_e_s}
                         WHEN before < e THEN {diff_e_before} ELSE 0 END) AS us
    FROM ordered GROUP BY aid
)
SELECT acts.id, {diff_span} - COALESCE(covered.us, 0) AS uncovered
FROM acts LEFT JOIN covered ON covered.aid = acts.id
WHERE {diff_span} - COALESCE(covered.us, 0) > %s
"""


def _uncovered(candidates, tolerance_us: int) -> dict[int, float]:
    """Activity id -> seconds of arrival→departure that no timed audio or video recording
    of the activity covers (all devices together, each recording clipped to the
    activity), for the ``candidates`` (a queryset of activity ids) with more than
    ``tolerance_us`` microseconds uncovered.

    Gaps and islands with one window function: in start order, a recording adds what
    reaches past the latest end of the recordings before it (``before``); the sum is the
    covered time, and the span less the covered time is the uncovered time."""
    from django.db import connection

    ops = _SQL["sqlite" if connection.vendor == "sqlite" else "postgresql"]
    q = connection.ops.quote_name
    activity, recording = Activity._meta, Recording._meta

    def col(meta, name):
        return q(meta.get_field(name).column)

    inner, params = candidates.query.sql_with_params()
    diff = ops["diff"].format
    sql = _COVERAGE.format(
        id=q("id"), arrived=col(activity, "arrived_at"), departed=col(activity, "departed_at"),
        activity=q(activity.db_table), recording=q(recording.db_table), candidates=inner,
        activity_id=col(recording, "activity"), started=col(recording, "started_at"),
        ended=col(recording, "ended_at"), kind=col(recording, "kind"),
        max=ops["max"], min=ops["min"], diff_e_s=diff("e", "s"),
        diff_e_before=diff("e", "before"),
        diff_span=diff("acts.departed", "acts.arrived"))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *AV, tolerance_us])
        return {pk: float(us) / 1_000_000 for pk, us in cursor.fetchall()}


def coverage(ctx: Context, profile, window: Window):
    """A must-record activity with at least one timed audio or video recording whose
    recordings (all devices together, clipped to arrival–departure) leave more than the
    profile's ``coverage_tolerance_seconds`` of the span uncovered (full process: A8, B14).
    Recordings without a start or an end are left out."""
    codes = profile.must_record_codes
    if not codes:
        return []
    candidates = (_base(ctx, window)
                  .filter(_upload_due(profile, ctx.now), activity_type__in=codes)
                  .filter(Exists(_av(activity=OuterRef("pk"), started_at__isnull=False,
                                     ended_at__isnull=False)))
                  .values("pk"))
    uncovered = _uncovered(candidates, profile.coverage_tolerance_seconds * 1_000_000)
    if not uncovered:
        return []
    rows = (Activity.objects.filter(pk__in=list(uncovered)).order_by()
            .annotate(recorder=_recorder())
            .values_list("pk", "unit_id", "arrived_at", "departed_at", "recorder"))
    out = []
    for pk, unit_id, arrived, departed, recorder in rows:
        span = (departed - arrived).total_seconds()
        gap = uncovered[pk]
        percent = round(100.0 * (span - gap) / span, 1) if span else 100.0
        out.append(Match(object_id=pk, person_id=recorder, unit_id=unit_id, at=arrived,
                         details={"covered_percent": percent,
                                  "uncovered_seconds": round(gap, 3),
                                  "span_seconds": round(span, 3),
                                  "tolerance_seconds": profile.coverage_tolerance_seconds}))
    return out


register(Rule(
    id="ACT-3.coverage", requirement="ACT-3", articles="A8, B14",
    title=_("The recordings do not cover the activity from arrival to departure"),
    subject="activities.activity", evaluate=coverage, touched=_touched))


# -- ACT-2: officers, the designated recorder, photos of the key evidence ---------------------

def too_few_officers(ctx: Context, profile, window: Window):
    """Fewer officers on the activity than the profile's ``recording.min_officers`` (B12: two;
    A states no minimum)."""
    count = Subquery(ActivityOfficer.objects.filter(activity=OuterRef("pk")).order_by()
                     .values("activity").annotate(n=Count("pk")).values("n"))
    rows = (_base(ctx, window)
            .annotate(officers_n=Coalesce(count, Value(0)))
            .filter(officers_n__lt=profile.min_officers)
            .annotate(recorder=_recorder())
            .values_list("pk", "unit_id", "arrived_at", "recorder", "officers_n"))
    return [Match(object_id=pk, person_id=recorder, unit_id=unit_id, at=arrived,
                  details={"officers": n, "minimum": profile.min_officers})
            for pk, unit_id, arrived, recorder, n in rows]


register(Rule(
    id="ACT-2.too_few_officers", requirement="ACT-2", articles="A8, B12",
    title=_("Fewer officers than the profile's minimum"),
    subject="activities.activity", evaluate=too_few_officers, touched=_touched))


def no_recorder(ctx: Context, profile, window: Window):
    """No designated recorder among the officers, where the profile asks for one
    (``compliance.designated_recorder``; B12: one of the two officers records)."""
    if not profile.designated_recorder:
        return []
    rows = (_base(ctx, window)
            .filter(~Exists(ActivityOfficer.objects.filter(activity=OuterRef("pk"),
                                                           is_recorder=True)))
            .values_list("pk", "unit_id", "arrived_at"))
    return [Match(object_id=pk, unit_id=unit_id, at=arrived) for pk, unit_id, arrived in rows]


register(Rule(
    id="ACT-2.no_recorder", requirement="ACT-2", articles="A8, B12",
    title=_("No designated recorder"),
    subject="activities.activity", evaluate=no_recorder, touched=_touched))


def no_evidence_photos(ctx: Context, profile, window: Window):
    """The activity lists key evidence items to photograph and no photo is linked to it,
    where the profile asks for photos (``compliance.evidence_photos``; A11, B15)."""
    if not profile.evidence_photos:
        return []
    items = Subquery(EvidenceItem.objects.filter(activity=OuterRef("pk")).order_by()
                     .values("activity").annotate(n=Count("pk")).values("n"))
    rows = (_base(ctx, window)
            .filter(_upload_due(profile, ctx.now))
            .filter(Exists(EvidenceItem.objects.filter(activity=OuterRef("pk"))),
                    ~Exists(Recording.objects.filter(activity=OuterRef("pk"),
                                                     kind=MediaKind.PHOTO)))
            .annotate(recorder=_recorder(), items=items)
            .values_list("pk", "unit_id", "arrived_at", "recorder", "items"))
    return [Match(object_id=pk, person_id=recorder, unit_id=unit_id, at=arrived,
                  details={"evidence_items": n})
            for pk, unit_id, arrived, recorder, n in rows]


register(Rule(
    id="ACT-2.no_evidence_photos", requirement="ACT-2", articles="A10, A11, B15",
    title=_("Key evidence listed but no photo"),
    subject="activities.activity", evaluate=no_evidence_photos, touched=_touched))


# -- ACT-4: work records ----------------------------------------------------------------------
# An exemption or stop without any work record: a must-record activity with no recording and
# no exemption that counts is ACT-1.not_recorded (the work record is what would have
# excused it), so there is no separate rule for it.

def unreviewed(ctx: Context, profile, window: Window):
    """A work record (exemption or stop) the profile asks to be reviewed
    (``recording.work_record_review``: the principal leader, A12, or the unit head) that has
    not been reviewed **7 days** after it was written. The writer is responsible for having
    it reviewed (A12: 报本单位主要领导审核)."""
    if not review_required(profile):
        return []
    rows = (WorkRecord.objects
            .filter(activity__in=_base(ctx, window).values("pk"), reviewed_at__isnull=True,
                    written_at__lt=ctx.now - REVIEW_WAIT)
            .order_by()
            .values_list("pk", "activity_id", "activity__unit_id", "activity__arrived_at",
                         "written_by_id", "written_at", "kind", "reason"))
    return [Match(object_id=pk, person_id=writer, unit_id=unit_id, at=arrived,
                  details={"activity": activity_id, "kind": kind, "reason": reason,
                           "written_at": written.isoformat(),
                           "reviewer": profile.work_record_review})
            for pk, activity_id, unit_id, arrived, writer, written, kind, reason in rows]


def _touched_records(ctx: Context):
    return WorkRecord.objects.filter(activity__in=ctx.activities().values("pk"))


register(Rule(
    id="ACT-4.unreviewed", requirement="ACT-4", articles="A12, B7",
    title=_("A work record is not reviewed within 7 days"),
    subject="activities.workrecord", evaluate=unreviewed, touched=_touched_records))
