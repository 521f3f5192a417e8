"""The campaign report (评查报告, SUP-1): the checklist results per unit and per officer,
and the findings the compliance rules raised on the sampled activities (on the activity
itself or on one of its recordings), as CSV (UTF-8 with a BOM, for Excel) and as a PDF in
Chinese (Typst, Noto CJK, as the viewing register and the custody report).

A result counts once per reviewer and criterion (the score in force); an officer is
credited with the results of every sampled activity they were on. The pass rate is
passes / (passes + fails); 不适用 is left out. Every export is audited (``review.report``).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.audit import services as audit
from witness.core import pdf
from witness.core.cli_args import short_time
from witness.core.errors import WitnessError, both

from . import services
from .models import Campaign, CampaignItem, Criterion, Result

SUMMARY_COLUMNS = [
    ("level", _("level")),
    ("name", _("name")),
    ("badge", _("badge number")),
    ("unit", _("unit")),
    ("items", _("sampled activities")),
    ("scored", _("scored activities")),
    ("passed", _("passed")),
    ("failed", _("failed")),
    ("na", _("not applicable")),
    ("rate", _("pass rate")),
    *[(f"c:{c.value}", c.label) for c in Criterion],
    ("findings", _("findings")),
]
FINDING_COLUMNS = [
    ("rule", _("rule")),
    ("requirement", _("requirement")),
    ("activity", _("activity")),
    ("unit", _("unit")),
    ("responsible", _("person responsible")),
    ("status", _("status")),
    ("occurred_at", _("occurred at")),
]


def _rate(passed: int, failed: int) -> str:
    return f"{100 * passed / (passed + failed):.1f}%" if passed + failed else "—"


class _Tally:
    def __init__(self):
        self.items = 0
        self.scored = 0
        self.findings = 0
        self.results: dict[str, int] = defaultdict(int)
        self.criteria: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, criterion: str, result: str, n: int) -> None:
        self.results[result] += n
        self.criteria[criterion][result] += n

    def row(self, level, name, badge="", unit="") -> dict[str, str]:
        p, f, na = (self.results[Result.PASS], self.results[Result.FAIL],
                    self.results[Result.NOT_APPLICABLE])
        out = {"level": str(level), "name": name, "badge": badge, "unit": unit,
               "items": str(self.items), "scored": str(self.scored), "passed": str(p),
               "failed": str(f), "na": str(na), "rate": _rate(p, f),
               "findings": str(self.findings)}
        for c in Criterion:
            counts = self.criteria[c.value]
            given = counts[Result.PASS] + counts[Result.FAIL]
            out[f"c:{c.value}"] = f"{counts[Result.PASS]}/{given}" if given else "—"
        return out


def findings_of(campaign: Campaign):
    """The findings on the sampled activities or their recordings, oldest first."""
    from witness.activities.models import Activity
    from witness.findings.models import Finding
    from witness.recordings.models import Recording

    activity_ids = CampaignItem.objects.filter(campaign=campaign).values("activity_id")
    activity_ct = ContentType.objects.get_for_model(Activity)
    recording_ct = ContentType.objects.get_for_model(Recording)
    return (Finding.objects.filter(
        Q(content_type=activity_ct, object_id__in=activity_ids)
        | Q(content_type=recording_ct, object_id__in=Recording.objects.filter(
            activity_id__in=activity_ids).values("id")))
        .select_related("content_type", "responsible").order_by("raised_at", "id"))


def summary(campaign: Campaign) -> dict:
    """Per unit, per officer and in total; the findings. Aggregates are the database's."""
    from witness.activities.models import ActivityOfficer
    from witness.findings.models import FindingStatus
    from witness.recordings.models import Recording

    items = CampaignItem.objects.filter(campaign=campaign)
    current = services.current_scores(
        services.Score.objects.filter(item__campaign=campaign))
    units = {u.pk: u for u in campaign.units.all()}
    by_unit: dict[int, _Tally] = defaultdict(_Tally)
    by_officer: dict[int, _Tally] = defaultdict(_Tally)
    total = _Tally()
    for unit_id, n in items.values("unit_id").annotate(n=Count("id")).values_list(
            "unit_id", "n"):
        by_unit[unit_id].items = n
        total.items += n
    for unit_id, n in current.values("item__unit_id").annotate(
            n=Count("item", distinct=True)).values_list("item__unit_id", "n"):
        by_unit[unit_id].scored = n
        total.scored += n
    for unit_id, criterion, result, n in current.values(
            "item__unit_id", "criterion", "result").annotate(n=Count("id")).values_list(
            "item__unit_id", "criterion", "result", "n"):
        by_unit[unit_id].add(criterion, result, n)
        total.add(criterion, result, n)
    on_sample = ActivityOfficer.objects.filter(activity__in=items.values("activity_id"))
    for person_id, n in on_sample.values("person_id").annotate(
            n=Count("activity", distinct=True)).values_list("person_id", "n"):
        by_officer[person_id].items = n
    for person_id, n in current.filter(item__activity__officers__isnull=False).values(
            "item__activity__officers__person_id").annotate(
            n=Count("item", distinct=True)).values_list(
            "item__activity__officers__person_id", "n"):
        by_officer[person_id].scored = n
    for person_id, criterion, result, n in current.filter(
            item__activity__officers__isnull=False).values(
            "item__activity__officers__person_id", "criterion", "result").annotate(
            n=Count("id")).values_list("item__activity__officers__person_id", "criterion",
                                       "result", "n"):
        by_officer[person_id].add(criterion, result, n)

    # findings: mapped to their activity, its unit and its officers
    item_unit = dict(items.values_list("activity_id", "unit_id"))
    officers_of: dict[int, list[int]] = defaultdict(list)
    for activity_id, person_id in on_sample.values_list("activity_id", "person_id"):
        officers_of[activity_id].append(person_id)
    found = list(findings_of(campaign))
    rec_ids = [f.object_id for f in found if f.content_type.model == "recording"]
    activity_of_recording = dict(Recording.objects.filter(pk__in=rec_ids).values_list(
        "pk", "activity_id"))
    findings = []
    for f in found:
        activity_id = (f.object_id if f.content_type.model == "activity"
                       else activity_of_recording.get(f.object_id))
        unit_id = item_unit.get(activity_id)
        by_unit[unit_id].findings += 1
        total.findings += 1
        for person_id in officers_of.get(activity_id, []):
            by_officer[person_id].findings += 1
        findings.append({
            "rule": f.rule_id, "requirement": f.details.get("requirement", ""),
            "activity": f"#{activity_id}", "unit": units[unit_id].name if unit_id in units
            else "", "responsible": f.responsible.name if f.responsible_id else "",
            "status": str(FindingStatus(f.status).label) if f.status in FindingStatus.values
            else f.status, "occurred_at": short_time(f.occurred_at or f.raised_at)})

    from witness.org.models import Person

    people = {p.pk: p for p in Person.objects.filter(pk__in=list(by_officer)).select_related(
        "unit")}
    unit_rows = [by_unit[u.pk].row(_("unit"), u.name) for u in
                 sorted(units.values(), key=lambda u: (u.name, u.pk))]
    officer_rows = [by_officer[p.pk].row(_("officer"), p.name, p.badge_number or "",
                                         p.unit.name)
                    for p in sorted(people.values(), key=lambda p: (p.unit.name, p.name,
                                                                     p.pk))]
    return {"units": unit_rows, "officers": officer_rows,
            "total": total.row(_("total"), str(_("all units"))), "findings": findings}


def to_csv(data: dict) -> bytes:
    """Two tables: the results (units, officers, total), an empty row, the findings."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(label) for _k, label in SUMMARY_COLUMNS])
    for r in [*data["units"], *data["officers"], data["total"]]:
        writer.writerow([r[k] for k, _l in SUMMARY_COLUMNS])
    writer.writerow([])
    writer.writerow([str(label) for _k, label in FINDING_COLUMNS])
    for r in data["findings"]:
        writer.writerow([r[k] for k, _l in FINDING_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render_pdf(campaign: Campaign, data: dict) -> bytes:
    columns = [(k, label) for k, label in SUMMARY_COLUMNS if k != "level"]
    widths = [1.4, 1.2, 1.2, *[0.8] * 7, *[0.9] * len(Criterion)]
    per_unit, per_officer, seed = (both(t)["zh"] for t in (
        _("activities per unit"), _("activities per officer"), _("seed")))
    approved = (f"{campaign.approved_by.name} {short_time(campaign.approved_at)}"
                if campaign.approved_by_id else "—")
    facts = [
        pdf.fact(_("agency"), campaign.agency.name),
        pdf.fact(_("kind"), str(campaign.get_kind_display())),
        pdf.fact(_("period"), f"{campaign.period_from} — {campaign.period_to}"),
        pdf.fact(_("units"), "、".join(u.name for u in campaign.units.order_by("name"))),
        pdf.fact(_("sample"), f"{per_unit} {campaign.per_unit}，{per_officer} "
                              f"{campaign.per_officer}，{seed} {campaign.seed}"),
        pdf.fact(_("reviewers"), "、".join(p.name for p in campaign.reviewers.order_by("pk"))),
        pdf.fact(_("approved by"), approved),
        pdf.fact(_("status"), str(campaign.get_status_display())),
        pdf.fact(_("generated at"), short_time(timezone.now())),
    ]
    header = [label for _k, label in columns]
    return pdf.tables_pdf(
        title=_("Review report"), heading=campaign.name, agency=campaign.agency.name,
        facts=facts, empty=_("None."), sections=[
            pdf.section(_("Results per unit"), header, widths,
                        [[r[k] for k, _l in columns] for r in [*data["units"], data["total"]]]),
            pdf.section(_("Results per officer"), header, widths,
                        [[r[k] for k, _l in columns] for r in data["officers"]]),
            pdf.section(_("Findings on the sampled activities"),
                        [label for _k, label in FINDING_COLUMNS], [2, 0.8, 0.8, 1.2, 1, 1, 1.2],
                        [[r[k] for k, _l in FINDING_COLUMNS] for r in data["findings"]]),
        ])


def export(subject: authz.Subject, campaign: Campaign, fmt: str) -> bytes:
    """The report of ``campaign`` as ``csv`` or ``pdf`` bytes, in Chinese; audited."""
    authz.require(subject, "review.manage")
    if campaign.agency_id != getattr(subject.agency, "pk", None):
        raise authz.Denied(_("This campaign belongs to another agency."), code="scope")
    if fmt not in ("csv", "pdf"):
        raise WitnessError(_("Unknown format: %(fmt)s."), code="bad_format", fmt=fmt)
    with translation.override("zh-hans"):
        data = summary(campaign)
        content = to_csv(data) if fmt == "csv" else render_pdf(campaign, data)
    with transaction.atomic():
        audit.append(services._actor(subject), "review.report", campaign, details={
            "format": fmt, "units": len(data["units"]), "officers": len(data["officers"]),
            "findings": len(data["findings"]), "bytes": len(content)})
    return content
