"""Enforcement activities (ACT-2): list with filters, detail, create.

Scope (issue 5 item 1, witness.access.authz): an officer sees the activities they are an
officer of; a unit head those of the units they head and their own; bureau leaders and
the legal and supervision role the whole agency. An activity outside the scope answers
404, as if it did not exist (its existence is not revealed), with a ``denied`` audit entry.
"""

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q
from django.shortcuts import redirect, render
from django.utils import timezone

from witness.access import authz
from witness.activities import services
from witness.activities.models import Activity, ActivityOfficer, Case, CaseStatus, WorkRecord
from witness.core.errors import WitnessError
from witness.findings.models import Finding
from witness.profiles import services as profiles
from witness.recordings.models import MediaKind, Recording
from witness.web.access import may_open
from witness.web.forms import ActivityFilterForm, ActivityForm
from witness.web.views import timeline
from witness.web.views.common import (
    add_error,
    form_status,
    keyset,
    person_of,
    roles_required,
    scoped,
)
from witness.web.views.names import type_names


def _current_types(request):
    try:
        return services.activity_types_for(request.agency, timezone.now())
    except WitnessError:
        return []


def _local_midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _officers():
    return Prefetch("officers", queryset=ActivityOfficer.objects.select_related("person"))


RECORDINGS_SHOWN = 200


@roles_required("activity_list")
def activity_list(request):
    form = ActivityFilterForm(request.agency, _current_types(request), request.GET or None)
    filters = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            "unit": data["unit"],
            "activity_type": data["activity_type"] or None,
            "start": _local_midnight(data["start"]) if data["start"] else None,
            "end": _local_midnight(data["end"] + timedelta(days=1)) if data["end"] else None,
        }
    qs = authz.visible_activities(request.subject, services.activities(
        request.agency, **filters)).prefetch_related(_officers())
    page = keyset(request, qs, "arrived_at", descending=True)
    names = type_names(request.agency)
    for activity in page.rows:
        activity.type_name = names.get(activity.activity_type, activity.activity_type)
    return render(request, "web/activities/list.html", {
        "form": form, "page": page, "can_create": may_open(request.roles, "activity_create")})


def _findings(request, activity, recordings_qs):
    """The findings the viewer may see about the activity, its recordings and its work
    records: one query, whatever their number."""
    types = ContentType.objects.get_for_models(Activity, Recording, WorkRecord)
    about = (Q(content_type=types[Activity], object_id=activity.pk)
             | Q(content_type=types[Recording], object_id__in=recordings_qs.values("pk"))
             | Q(content_type=types[WorkRecord],
                 object_id__in=WorkRecord.objects.filter(activity=activity).values("pk")))
    found = list(authz.visible_findings(request.subject, Finding.objects.filter(about))
                 .select_related("content_type", "responsible").order_by("raised_at", "id"))
    from witness.findings.views import rule_title

    for finding in found:
        finding.title = rule_title(finding.rule_id)
    return found


@roles_required("activity_detail")
def activity_detail(request, pk):
    """The activity page (issue 8 item 2): the ACT-2 facts, officers, the timeline of every
    segment of every device with its gaps and their findings' status, photos, findings,
    work records. A fixed number of queries whatever the number of recordings."""
    activity = scoped(request, Activity.objects.select_related("unit", "case", "agency"), pk,
                      "activity.view", authz.visible_activities)
    officers = activity.officers.select_related("person", "person__unit").order_by(
        "-is_recorder", "id")
    # The recordings' metadata the user may see; playing any of them needs a grant, which
    # the player page checks (EVD-2, ING-3).
    visible = authz.visible_recordings(request.subject, Recording.objects.filter(
        activity=activity))
    recordings = list(visible.select_related("device", "holder").order_by("started_at", "id"))
    findings = _findings(request, activity, visible)
    try:
        _version, profile = profiles.in_force(activity.agency, activity.arrived_at)
    except WitnessError:  # no profile in force then: every gap is shown without tolerance
        profile = None
    line = timeline.build(activity, recordings, findings, profile)
    return render(request, "web/activities/detail.html", {
        "activity": activity,
        "type_name": type_names(request.agency).get(activity.activity_type,
                                                    activity.activity_type),
        "officers": officers,
        "evidence_items": activity.evidence_items.all(),
        "recordings": recordings[:RECORDINGS_SHOWN + 1],
        "recordings_shown": RECORDINGS_SHOWN,
        "photos": [r for r in recordings if r.kind == MediaKind.PHOTO],
        "timeline": line,
        "findings": findings,
        "work_records": activity.work_records.select_related("written_by", "reviewed_by"),
    })


@roles_required("activity_create")
def activity_create(request):
    person = person_of(request.user)
    initial = {"unit": person.unit_id} if person else {}
    form = ActivityForm(request.agency, _current_types(request), request.POST or None,
                        initial=initial)
    status = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            activity = services.create_activity(
                request.agency, unit=data["unit"], activity_type=data["activity_type"],
                place=data["place"], arrived_at=data["arrived_at"],
                departed_at=data["departed_at"], officers=list(data["officers"]),
                recorder=data["recorder"], case=data["case"], party=data["party"],
                scene=data["scene"], party_conduct=data["party_conduct"],
                violations_found=data["violations_found"],
                evidence_items=form.evidence_list(), off_site=data["off_site"],
                remote=data["remote"], continuous=data["continuous"],
                returned_to_unit_at=data["returned_to_unit_at"], actor=request.user)
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            for warning in getattr(activity, "warnings", ()):
                messages.warning(request, str(warning))
            return redirect("activity_detail", pk=activity.pk)
    return render(request, "web/activities/form.html", {"form": form},
                  status=form_status(form, status))


def _edit_types(request, activity):
    """The activity types of the profile in force at the activity's arrival (its type is
    one of them), else those in force now."""
    try:
        return services.activity_types_for(request.agency, activity.arrived_at)
    except WitnessError:
        return _current_types(request)


def _edit_initial(activity) -> dict:
    rows = list(activity.officers.all())  # prefetched with their people
    local = {name: timezone.localtime(getattr(activity, name)) if getattr(activity, name)
             else None for name in ("arrived_at", "departed_at", "returned_to_unit_at")}
    return {
        "activity_type": activity.activity_type, "unit": activity.unit_id,
        "case": activity.case_id, "place": activity.place, **local,
        "officers": [row.person_id for row in rows],
        "recorder": next((row.person_id for row in rows if row.is_recorder), None),
        "party": activity.party, "scene": activity.scene,
        "party_conduct": activity.party_conduct, "violations_found": activity.violations_found,
        "evidence_items": "\n".join(item.description for item in activity.evidence_items.all()),
        "off_site": activity.off_site, "remote": activity.remote,
        "continuous": activity.continuous,
    }


def _same_minute(form_value, stored) -> bool:
    """The form shows times to the minute: an unchanged field keeps the stored seconds."""
    if form_value is None or stored is None:
        return form_value is None and stored is None
    return form_value == stored.replace(second=0, microsecond=0)


def _edited_fields(form, activity) -> dict:
    data = form.cleaned_data
    fields = {name: data[name] for name in (
        "unit", "activity_type", "place", "case", "party", "scene", "party_conduct",
        "violations_found", "off_site", "remote", "continuous")}
    rows = list(activity.officers.all())
    if {p.pk for p in data["officers"]} != {row.person_id for row in rows}:
        fields["officers"] = list(data["officers"])  # else unchanged, whatever their order
    recorder = next((row.person_id for row in rows if row.is_recorder), None)
    if "officers" in fields or data["recorder"].pk != recorder:
        fields["recorder"] = data["recorder"]
    fields["evidence_items"] = form.evidence_list()
    for name in ("arrived_at", "departed_at", "returned_to_unit_at"):
        if not _same_minute(data[name], getattr(activity, name)):
            fields[name] = data[name]
    return fields


@roles_required("activity_edit")
def activity_edit(request, pk):
    """Correct an activity (issue 8 item 4, ACT-2): the creation form filled with its
    values; the change goes through ``update_activity``, which validates it and writes
    ``activity.update`` with the before and after values. Outside the user's scope: 404
    and a ``denied`` entry."""
    activity = scoped(request, Activity.objects.select_related("unit", "case", "agency")
                      .prefetch_related(_officers(), "evidence_items"), pk,
                      "activity.update", authz.visible_activities)
    form = ActivityForm(request.agency, _edit_types(request, activity), request.POST or None,
                        initial=_edit_initial(activity))
    if activity.case_id:  # a closed case stays choosable for the activity already in it
        form.fields["case"].queryset = (Case.objects.filter(agency=request.agency).filter(
            Q(status=CaseStatus.OPEN) | Q(pk=activity.case_id)).order_by("-opened_at", "-id"))
    status = None
    if request.method == "POST" and form.is_valid():
        try:
            updated = services.update_activity(activity, actor=request.user,
                                               **_edited_fields(form, activity))
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            for warning in getattr(updated, "warnings", ()):
                messages.warning(request, str(warning))
            if not authz.visible_activities(request.subject, Activity.objects.filter(
                    pk=updated.pk)).exists():  # the user took themselves off it
                return redirect("activity_list")
            return redirect("activity_detail", pk=updated.pk)
    return render(request, "web/activities/form.html", {"form": form, "activity": activity},
                  status=form_status(form, status))
