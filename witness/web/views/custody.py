"""The chain-of-custody report from the web (issue 4 item 5; EVD-1, ING-4): the same PDF
as ``witness custody``, for a recording, an activity or a case the user may see. Making it
is audited (``custody.report`` with the PDF's SHA-256) in the transaction that answers."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from django.db import transaction
from django.http import Http404, HttpResponse

from witness.access import authz
from witness.activities.models import Activity, Case
from witness.audit import custody
from witness.audit import services as audit
from witness.core.errors import WitnessError
from witness.org.models import Role
from witness.recordings.models import Recording
from witness.web.views.common import error_lines, roles_required

KINDS = {"recording": Recording, "activity": Activity, "case": Case}


def _visible(subject, obj) -> bool:
    """Custodians keep the agency's records: any object of their agency; the others by
    the scope of their own pages."""
    if isinstance(obj, Recording):
        return authz.can_see_recording(subject, obj)
    agency_id = obj.agency_id
    if Role.CUSTODIAN in subject.roles:
        return subject.agency is not None and agency_id == subject.agency.pk
    if isinstance(obj, Activity):
        return authz.can_see_activity(subject, obj)
    return authz.visible_cases(subject).filter(pk=obj.pk).exists()


@roles_required("custody_report")
def custody_report(request, kind, pk):
    model = KINDS.get(kind)
    obj = model.objects.filter(pk=pk).first() if model else None
    subject = authz.subject_of(request.user)
    if obj is None or not _visible(subject, obj):
        raise Http404
    try:
        report = custody.collect(obj, actor=request.user)
        data = custody.render(report, "pdf")
    except WitnessError as exc:
        return HttpResponse("\n".join(error_lines(exc)), status=409,
                            content_type="text/plain; charset=utf-8")
    cp = report["checkpoint"]
    name = f"custody-{kind}-{pk}.pdf"
    with transaction.atomic():
        audit.append(request.user, "custody.report", obj, details={
            "format": "pdf", "file": name, "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data), "entries": len(report["entries"]),
            "recordings": len(report["recordings"]), "tree_size": cp["tree_size"],
            "root": cp["root"], "via": "web"})
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response
