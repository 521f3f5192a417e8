"""Each recording's keep-until (RET-1: A15 24 months, B21 at least 12 months; evidence as long
as the case file), derived set-based and never shortened automatically.

Two parts:

* **dated terms**, stored in ``RecordingRetention.keep_until`` by :func:`recompute`: the
  profile version in force when the recording was made (its ``retention.months`` from the
  recording's start, else its ingest), and — for a recording of an activity of a closed
  case — the case's retention class from the case's closing (B21). A recomputation
  writes the new value only where it is later than the stored one (the maximum of old and
  new); each extension is a ``RetentionChange`` row of one audited ``RecomputeRun``.
  A handful of UPDATE … SELECT statements per agency and profile activation: no loop over
  recordings.
* **open reasons**, asked live by :func:`blocking_q`: while any holds, the recording is
  kept whatever its date — a hold proposed or in force (on the recording, its activity or
  its case), an open case or one kept permanently, an unresolved finding on the recording
  or its activity, a viewing or disclosure request in approval or a grant in force, a
  violation without an outcome.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import (
    DateTimeField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from witness.audit import services as audit
from witness.profiles.models import ProfileActivation
from witness.profiles.services import profile_of
from witness.recordings.models import Recording
from witness.retention.models import (
    HOLDING,
    Basis,
    Hold,
    RecomputeRun,
    RecordingRetention,
    RetentionChange,
)

CASE_YEARS = {"10y": 10, "30y": 30}  # activities.RetentionClass; "permanent" never expires
UNRESOLVED_FINDING = ("open", "explained", "rejected", "escalated")


class AddMonths(Func):
    """``expression`` plus ``months`` calendar months (an int), in SQL."""

    output_field = DateTimeField()

    def __init__(self, expression, months: int):
        super().__init__(expression)
        self.months = int(months)

    def as_sqlite(self, compiler, conn, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {sql}, '+{self.months} months')", params

    def as_postgresql(self, compiler, conn, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} + make_interval(months => {self.months}))", params


def recorded_at():
    return Coalesce("started_at", "ingested_at")


def agency_q(agency, prefix: str = "") -> Q:
    return (Q(**{f"{prefix}ingest_run__agency": agency})
            | Q(**{f"{prefix}ingest_run__isnull": True,
                   f"{prefix}device__unit__agency": agency}))


def blocking_q(now=None) -> Q:
    """A Q on Recording: something keeps it whatever its date (see the module's doc)."""
    from witness.access.models import Grant, RequestItem
    from witness.activities.models import Case
    from witness.findings.models import Finding, Violation

    now = now or timezone.now()
    holds = Hold.objects.filter(state__in=HOLDING)
    held = (Exists(holds.filter(recording=OuterRef("pk")))
            | Exists(holds.filter(activity=OuterRef("activity_id")))
            | Exists(holds.filter(case=OuterRef("activity__case_id"))))
    case_open = Exists(Case.objects.filter(pk=OuterRef("activity__case_id")).filter(
        ~Q(status="closed") & ~Q(status="archived") | Q(retention_class="permanent")
        | Q(closed_at__isnull=True)))
    findings = Finding.objects.filter(status__in=UNRESOLVED_FINDING)
    rec_type, act_type = _types()
    finding_open = (Exists(findings.filter(content_type_id=rec_type, object_id=OuterRef("pk")))
                    | Exists(findings.filter(content_type_id=act_type,
                                             object_id=OuterRef("activity_id"))))
    violation_open = (
        Exists(Violation.objects.filter(outcome="pending", finding__content_type_id=rec_type,
                                        finding__object_id=OuterRef("pk")))
        | Exists(Violation.objects.filter(outcome="pending", finding__content_type_id=act_type,
                                          finding__object_id=OuterRef("activity_id"))))
    request_open = (
        Exists(RequestItem.objects.filter(recording=OuterRef("pk"),
                                          request__status="pending"))
        | Exists(Grant.objects.filter(recording=OuterRef("pk"), revoked_at__isnull=True,
                                      valid_until__gt=now)))
    # an export package still holding a copy (witness.preservation.packages.clean removes
    # it, daily, once its approval ended): the original is not purged before its copy
    package_kept = Exists(Grant.objects.filter(
        recording=OuterRef("pk"), person__isnull=True,
        request__export_package__status__in=PACKAGE_HOLDING))
    return (Q(held) | Q(case_open) | Q(finding_open) | Q(violation_open) | Q(request_open)
            | Q(package_kept))


def _types() -> tuple[int, int]:
    from django.contrib.contenttypes.models import ContentType

    from witness.activities.models import Activity

    return (ContentType.objects.get_for_model(Recording).pk,
            ContentType.objects.get_for_model(Activity).pk)


# export package states whose folder still holds copies of the originals
PACKAGE_HOLDING = ("queued", "running", "ready", "failed")


def reasons_for(recording, now=None) -> list[str]:
    """Which open reasons keep ``recording`` (codes, for people and JSON)."""
    from witness.access.models import Grant, RequestItem
    from witness.findings.models import Finding, Violation

    now = now or timezone.now()
    rec_type, act_type = _types()
    out = []
    holds = Hold.objects.filter(state__in=HOLDING)
    activity = recording.activity
    case = activity.case if activity is not None else None
    if holds.filter(Q(recording=recording) | Q(activity_id=recording.activity_id,
                                               activity__isnull=False)
                    | Q(case=case, case__isnull=False)).exists():
        out.append("hold")
    if case is not None and (case.status not in ("closed", "archived") or case.closed_at is None
                             or case.retention_class == "permanent"):
        out.append("case")
    finding_q = Q(content_type_id=rec_type, object_id=recording.pk)
    if activity is not None:
        finding_q |= Q(content_type_id=act_type, object_id=activity.pk)
    findings = Finding.objects.filter(finding_q)
    if findings.filter(status__in=UNRESOLVED_FINDING).exists():
        out.append("finding")
    if Violation.objects.filter(outcome="pending", finding__in=findings).exists():
        out.append("violation")
    if (RequestItem.objects.filter(recording=recording, request__status="pending").exists()
            or Grant.objects.filter(recording=recording, revoked_at__isnull=True,
                                    valid_until__gt=now).exists()):
        out.append("request")
    if Grant.objects.filter(recording=recording, person__isnull=True,
                            request__export_package__status__in=PACKAGE_HOLDING).exists():
        out.append("package")
    return out


def _ensure_rows(ids=None) -> None:
    """A retention row for every recording without one (INSERT … SELECT)."""
    table = RecordingRetention._meta.db_table
    sql = (f"INSERT INTO {table} (recording_id, keep_until, basis, candidate_basis, "  # noqa: S608 - model table names
           f"updated_at, profile_version_id, candidate) "
           f"SELECT r.id, NULL, '', '', %s, NULL, NULL FROM {Recording._meta.db_table} r "
           f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.recording_id = r.id)")
    params: list = [connection.ops.adapt_datetimefield_value(timezone.now())]
    if ids is not None:
        ids = [int(i) for i in ids] or [0]
        sql += f" AND r.id IN ({', '.join(['%s'] * len(ids))})"
        params += ids
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _profile_terms(rows) -> None:
    """candidate = recorded + months of the version in force at that moment, per agency and
    activation interval (before the first activation, the first version applies)."""
    from witness.org.models import Agency

    for agency in Agency.objects.all():
        activations = list(ProfileActivation.objects.filter(agency=agency)
                           .select_related("version").order_by("effective_from", "id"))
        for i, activation in enumerate(activations):
            months = profile_of(activation.version).retention_months
            recs = Recording.objects.filter(agency_q(agency)).annotate(_rec=recorded_at())
            if i > 0:
                recs = recs.filter(_rec__gte=activation.effective_from)
            if i + 1 < len(activations):
                recs = recs.filter(_rec__lt=activations[i + 1].effective_from)
            term = Recording.objects.filter(pk=OuterRef("recording_id")).values(
                t=AddMonths(recorded_at(), months))[:1]
            rows.filter(recording__in=recs.values("pk")).update(
                candidate=Subquery(term), candidate_basis=Basis.PROFILE,
                profile_version=activation.version)


def _case_terms(rows) -> None:
    """A closed case's recordings: at least the case's retention class from its closing."""
    for klass, years in CASE_YEARS.items():
        term = Recording.objects.filter(
            pk=OuterRef("recording_id"), activity__case__retention_class=klass,
            activity__case__closed_at__isnull=False,
        ).values(t=AddMonths(F("activity__case__closed_at"), years * 12))[:1]
        later = rows.filter(recording__activity__case__retention_class=klass,
                            recording__activity__case__closed_at__isnull=False)
        later.filter(Q(candidate__isnull=True) | Q(candidate__lt=Subquery(term))).update(
            candidate=Subquery(term), candidate_basis=Basis.CASE)


def recompute(*, actor=None, recording_ids=None, scope: str = "all") -> RecomputeRun:
    """Derive every (or the named) recording's dated keep-until and extend the stored one
    where the new value is later; audited as ``retention.recompute`` with the count."""
    with transaction.atomic():
        _ensure_rows(recording_ids)
        rows = RecordingRetention.objects.all()
        if recording_ids is not None:
            rows = rows.filter(recording_id__in=list(recording_ids))
        rows.update(candidate=None, candidate_basis="")
        _profile_terms(rows)
        _case_terms(rows)
        run = RecomputeRun.objects.create(actor_label=str(actor or "")[:200], scope=scope[:200])
        extended = rows.filter(candidate__isnull=False).filter(
            Q(keep_until__isnull=True) | Q(keep_until__lt=F("candidate")))
        change = RetentionChange._meta.db_table
        inner, params = extended.values("recording_id", "keep_until", "candidate",
                                        "candidate_basis").query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute(f"INSERT INTO {change} (run_id, recording_id, old_keep_until, "  # noqa: S608 - table names; inner is the ORM's
                        f"new_keep_until, basis) SELECT %s, s.* FROM ({inner}) s",
                        [run.pk, *params])
        changed = extended.update(keep_until=F("candidate"), basis=F("candidate_basis"),
                                  updated_at=timezone.now())
        rows.update(candidate=None, candidate_basis="")
        run.changed = changed
        run.save(update_fields=["changed"])
        audit.append(actor, "retention.recompute", run,
                     details={"scope": scope, "extended": changed})
    return run


def expired(agency, now=None):
    """The agency's recordings whose keep-until has passed, nothing keeps, and whose content
    is still held."""
    now = now or timezone.now()
    return (Recording.objects.filter(agency_q(agency), retention__keep_until__lte=now,
                                     blob__removed_at__isnull=True)
            .exclude(blocking_q(now)))
