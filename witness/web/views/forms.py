"""Printable forms (issue 8 item 5): a print-styled page and a PDF of each paper form an
agency signs — the device issue register (设备领用登记表), the viewing register (查阅登记簿),
a work record (工作记录), the written explanation (文字说明材料) and the review score sheet
(评查评分表). The data and their access rules are those of the pages they come from:

* device register — the ledger's (``device.list``: custodians and heads, the agency);
* viewing register — the register's (``register.view``, ``chain.register_scope_q``); its PDF
  is the register's own export (audited ``register.export``);
* work record — its activity's (``activity.view``, ``authz.visible_activities``);
* written explanation — the evidence export's (``recording.export``: custodians; every
  recording of the object in scope; no state secret, no removed content);
* review score sheet — the campaign's (``review.score``, ``review.services.visible_campaigns``).

Outside the scope: 404 and a ``denied`` audit entry (``common.scoped``). A PDF is audited
where the export of its data is (the explanation: ``evidence.explanation``; the score
sheet: ``review.sheet``, as ``review.report``); the ledger and work records have no export
and are not."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import quote

from django import forms
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from witness.access import authz, chain
from witness.access import register as book
from witness.access.labels import Label
from witness.activities.models import Activity, Case, WorkRecord
from witness.audit import services as audit
from witness.core.errors import Refused, WitnessError
from witness.devices.models import DeviceIssue, PreUseCheck
from witness.org.models import Unit
from witness.profiles import services as profiles
from witness.recordings.models import Recording
from witness.review import services as review
from witness.review.models import Campaign, Criterion, Result
from witness.web.views import forms_sheets as sheets
from witness.web.views.common import audit_denied, error_lines, roles_required, scoped
from witness.web.views.devices import drift_tolerance
from witness.web.views.requests_forms import RegisterFilterForm

MAX_ROWS = book.PDF_MAX_ROWS  # one form: narrow the dates beyond this
_DAY = timedelta(days=1)  # the filter's end is the start of the day after ``until``


def _pdf(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


def _text(exc: WitnessError, status: int) -> HttpResponse:
    return HttpResponse("\n".join(error_lines(exc)), status=status,
                        content_type="text/plain; charset=utf-8")


def _too_many(count) -> WitnessError:
    return WitnessError(_("More than %(max)s lines are too many for one form; choose a "
                          "shorter period or one unit."), code="too_many_rows", max=count)


def _sheet_page(request, data: dict, *, pdf_url: str = "", back: str = "", form=None,
                error=None, status: int = 200):
    return render(request, "web/forms/sheet.html", {
        "sheet": data, "pdf_url": pdf_url, "back": back, "form": form,
        "error_lines": error_lines(error) if error else None}, status=status)


def _day(moment) -> str:
    return moment.date().isoformat() if moment else ""


def _query(request) -> str:
    query = request.GET.urlencode()
    return f"?{query}" if query else ""


# -- 设备领用登记表 -----------------------------------------------------------------------------

class DeviceRegisterFilter(RegisterFilterForm):
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False,
                                  label=_("owning unit"), empty_label=_("All units"))
    field_order = ["unit", "since", "until"]

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.filter(agency=agency).order_by("code")


def _device_register(request):
    form = DeviceRegisterFilter(request.agency, request.GET or None)
    since, until = form.bounds() if form.is_bound else (None, None)
    unit = form.cleaned_data.get("unit") if form.is_bound and form.is_valid() else None
    qs = (DeviceIssue.objects.filter(device__unit__agency=request.agency)
          .select_related("device__unit", "holder", "holder_unit", "issued_by__person",
                          "returned_to__person")
          .prefetch_related(Prefetch("checks", queryset=PreUseCheck.objects.order_by(
              "checked_at", "id"))))
    if unit is not None:
        qs = qs.filter(device__unit=unit)
    if since is not None:
        qs = qs.filter(issued_at__gte=since)
    if until is not None:
        qs = qs.filter(issued_at__lt=until)
    issues = list(qs.order_by("issued_at", "id")[:MAX_ROWS + 1])
    error = _too_many(MAX_ROWS) if len(issues) > MAX_ROWS else None
    data = sheets.device_register(
        issues[:MAX_ROWS], agency=request.agency.name, unit=unit.name if unit else "",
        since=_day(since), until=_day(until - _DAY) if until else "",
        tolerance=drift_tolerance(request.agency))
    return form, data, error


@roles_required("form_device_register")
def device_register(request):
    form, data, error = _device_register(request)
    return _sheet_page(request, data, form=form, error=error, back=reverse("ledger"),
                       pdf_url=reverse("form_device_register_pdf") + _query(request))


@roles_required("form_device_register_pdf")
def device_register_pdf(request):
    with translation.override("zh-hans"):
        _form, data, error = _device_register(request)
        if error is not None:
            return _text(error, 422)
        content = sheets.render(data)
    return _pdf(content, f"设备领用登记表-{timezone.localtime():%Y%m%d-%H%M}.pdf")


# -- 查阅登记簿: the page; the PDF is the register's own export ------------------------------------

@roles_required("form_viewing_register")
def viewing_register(request):
    form = RegisterFilterForm(request.GET or None)
    since, until = form.bounds() if form.is_bound else (None, None)
    steps = list(book.entries(chain.register_scope_q(request.subject), since=since,
                              until=until).order_by("decided_at", "id")[:MAX_ROWS + 1])
    error = _too_many(MAX_ROWS) if len(steps) > MAX_ROWS else None
    data = book.rows(steps[:MAX_ROWS])
    header = [label for _key, label in book.COLUMNS] + [_("viewer's signature")]
    rows = [[n, *[r[key] for key, _label in book.COLUMNS], ""] for n, r in enumerate(data, 1)]
    until_text = _day(until - _DAY) if until else ""
    sheet = sheets.sheet(
        _("Viewing register"), agency=request.agency.name, landscape=True,
        empty=_("No registrations in this period."),
        facts=[(_("agency"), request.agency.name),
               (_("period"), f"{_day(since) or '…'} — {until_text or '…'}"),
               (_("registrations"), len(rows))],
        sections=[sheets.table("", [_("No."), *header],
                               [0.4, *book.WIDTHS, 1], rows)],
        signatures=[_("Custodian (signature)"), _("Person in charge (signature)")])
    return _sheet_page(request, sheet, form=form, error=error, back=reverse("register"),
                       pdf_url=reverse("register_pdf") + _query(request))


# -- 工作记录 -----------------------------------------------------------------------------------

def _work_record(request, pk):
    qs = WorkRecord.objects.select_related("activity__agency", "activity__unit",
                                           "activity__case", "written_by", "reviewed_by")
    record = scoped(request, qs, pk, "activity.view", lambda subject, rows: rows.filter(
        activity__in=_visible_activities(subject)))
    activity = record.activity
    officers = [o.person for o in activity.officers.select_related("person").order_by("id")]
    _version, profile = profiles.in_force(activity.agency, activity.arrived_at)
    return record, sheets.work_record(record, officers, profile.work_record_review)


def _visible_activities(subject):
    return authz.visible_activities(subject).values("pk")


@roles_required("form_work_record")
def work_record(request, pk):
    record, data = _work_record(request, pk)
    return _sheet_page(request, data, back=reverse("activity_detail", args=[record.activity_id]),
                       pdf_url=reverse("form_work_record_pdf", args=[record.pk]))


@roles_required("form_work_record_pdf")
def work_record_pdf(request, pk):
    with translation.override("zh-hans"):
        record, data = _work_record(request, pk)
        content = sheets.render(data)
    return _pdf(content, f"工作记录-{record.pk}.pdf")


# -- 评查评分表 ---------------------------------------------------------------------------------

def _review(request, pk):
    campaign = scoped(request, Campaign.objects.select_related("agency"), pk, "review.score",
                      lambda subject, rows: rows.filter(
                          pk__in=review.visible_campaigns(subject).values("pk")))
    items = list(review.items_of(campaign))
    results: dict = {}
    for item_id, criterion, result in (
            review.current_scores(review.Score.objects.filter(item__campaign=campaign))
            .order_by("item_id", "criterion", "reviewer_id")
            .values_list("item_id", "criterion", "result")):
        results.setdefault((item_id, criterion), []).append(str(Result(result).label))
    return campaign, sheets.review_sheet(campaign, items, results, list(Criterion))


@roles_required("form_review_sheet")
def review_sheet(request, pk):
    campaign, data = _review(request, pk)
    return _sheet_page(request, data, back=reverse("review_detail", args=[campaign.pk]),
                       pdf_url=reverse("form_review_sheet_pdf", args=[campaign.pk]))


@roles_required("form_review_sheet_pdf")
def review_sheet_pdf(request, pk):
    with translation.override("zh-hans"):
        campaign, data = _review(request, pk)
        content = sheets.render(data)
    with transaction.atomic():
        audit.append(request.user, "review.sheet", campaign, details={
            "format": "pdf", "items": len(data["sections"][0]["rows"]),
            "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)})
    return _pdf(content, f"评查评分表-{campaign.pk}.pdf")


# -- 文字说明材料 -------------------------------------------------------------------------------

KINDS = {"recording": Recording, "activity": Activity, "case": Case}


def _explanation(request, kind, pk):
    """The object, and the explanation's arguments from the blob register (the digests
    recorded at ingest), extracted by the user, now."""
    from witness.evidence import export

    model = KINDS.get(kind)
    if model is None:
        raise Http404
    qs = model.objects.all()
    if model is Recording:
        obj = scoped(request, qs, pk, "recording.export",
                     lambda subject, rows: authz.visible_recordings(subject, rows))
    else:
        obj = scoped(request, qs, pk, "recording.export",
                     lambda subject, rows: rows.filter(agency=subject.agency))
    recordings = export.recordings_of(obj)
    visible = authz.visible_recordings(request.subject).filter(
        pk__in=[r.pk for r in recordings]).count()
    if visible != len(recordings) or export.agency_of(obj) != request.agency:
        audit_denied(request, "recording.export", obj, exc=authz.Denied(code="scope"))
        raise Http404
    if not recordings:
        raise Refused(_("%(object)s has no recordings to export."), code="nothing_to_export",
                      object=export.ref_of(obj))
    if getattr(obj, "label", None) == Label.STATE_SECRET or any(
            Label.STATE_SECRET in (r.label, getattr(r.activity, "label", None),
                                   getattr(getattr(r.activity, "case", None), "label", None))
            for r in recordings):
        raise Refused(_("%(object)s is or holds a state secret (国家秘密): its content is not "
                        "exported from this system."), code="state_secret",
                      object=export.ref_of(obj))
    items = [export.Item(path=f"{export.ORIGINALS}/{r.pk}-{export.safe_name(r.source_path)}",
                         recording=r, blob=r.blob, kind="original",
                         digests={**r.blob.digests, "sha256": r.blob.sha256}, size=r.blob.size)
             for r in recordings if r.blob.removed_at is None]
    algorithms = [a for a in export._algorithms(request.agency)
                  if all(a in i.digests for i in items)]
    extractor = export.extractor_of(request.subject, request.user)
    return obj, items, algorithms, extractor


@roles_required("form_explanation")
def explanation(request, kind, pk):
    from witness.evidence.explanation import explanation_view

    try:
        obj, items, algorithms, extractor = _explanation(request, kind, pk)
    except Refused as exc:
        return _text(exc, 409)
    view = explanation_view(obj, request.agency, extractor, timezone.now(), items, algorithms)
    return render(request, "web/forms/explanation.html", {
        "view": view, "pdf_url": reverse("form_explanation_pdf", args=[kind, pk]),
        "back": _object_url(obj)})


@roles_required("form_explanation_pdf")
def explanation_pdf(request, kind, pk):
    from witness.evidence.explanation import render_explanation

    try:
        obj, items, algorithms, extractor = _explanation(request, kind, pk)
    except Refused as exc:
        return _text(exc, 409)
    when = timezone.now()
    content = render_explanation(obj, request.agency, extractor, when, items, algorithms)
    with transaction.atomic():
        audit.append(request.user, "evidence.explanation", obj, details={
            "object": f"{kind}:{obj.pk}", "files": len(items), "format": "pdf",
            "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)})
    return _pdf(content, f"文字说明材料-{kind}-{obj.pk}.pdf")


def _object_url(obj) -> str:
    if isinstance(obj, Activity):
        return reverse("activity_detail", args=[obj.pk])
    if isinstance(obj, Case):
        return reverse("case_detail", args=[obj.pk])
    return ""

