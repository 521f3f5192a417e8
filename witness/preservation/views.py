"""The web export after approval (issue 7 item 5; EVD-1, EVD-3): a granted disclosure
request's package — its status (HTMX fragment, polled while queued or being made), the
custodian's "make the package" (POST) and the download (a tar archive streamed on the fly).

Refusals follow docs/access.md: a request outside the subject's agency or scope answers 404
(a ``denied`` entry where it exists); a request that is not a disclosure by package, 404;
before its approval, after its period or once revoked, 403 with a ``denied`` entry; a
person who is neither a custodian nor the requester, 403 with a ``denied`` entry.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from witness.access import authz
from witness.access.models import AccessRequest
from witness.audit import services as audit
from witness.core.errors import NotFound, WitnessError
from witness.web.views.common import audit_denied, error_lines, roles_required
from witness.web.views.requests import visible_request

from . import packages
from .models import ExportPackage, PackageStatus


def _package_request(request, pk, action: str) -> AccessRequest:
    """The request ``pk`` (the subject's agency and scope), a disclosure by package; 404
    otherwise, with a ``denied`` entry for one of another agency."""
    other = AccessRequest.objects.filter(pk=pk).exclude(agency=request.agency).first()
    if other is not None:
        audit_denied(request, action, other, exc=authz.Denied(code="scope"))
        raise Http404
    req = visible_request(request, pk, action)
    if not packages.is_package_request(req):
        raise Http404
    return req


def _refuse(request, action: str, req, error: WitnessError):
    audit_denied(request, action, req, exc=error)
    raise authz.Denied(error.message, code=error.code, **error.params)


def _context(request, req) -> dict:
    pkg = ExportPackage.objects.filter(request=req).select_related("requested_by").first()
    error = packages.refusal(req, pkg.recordings if pkg and pkg.recordings else None)
    subject = request.subject
    return {
        "req": req, "pkg": pkg, "refusal": error,
        "may_make": error is None and packages.may_make(subject, req)
        and (pkg is None or pkg.status == PackageStatus.FAILED or packages.stale(pkg)),
        "may_download": error is None and pkg is not None
        and pkg.status == PackageStatus.READY and packages.may_download(subject, req),
        "polling": pkg is not None and pkg.status in (PackageStatus.QUEUED,
                                                      PackageStatus.RUNNING),
    }


def _render(request, req, status: int = 200):
    template = ("preservation/_package.html" if request.headers.get("HX-Request")
                else "preservation/package.html")
    return render(request, template, _context(request, req), status=status)


@roles_required("export_package")
@require_GET
def export_package(request, pk):
    """The package of request ``pk``: its status, and what the subject may do with it."""
    return _render(request, _package_request(request, pk, "request.view"))


@roles_required("export_package_make")
@require_http_methods(["POST"])
def export_package_make(request, pk):
    """POST: queue the package (once per request); answers the status fragment to HTMX."""
    action = "recording.export"
    req = _package_request(request, pk, action)
    error = packages.refusal(req)
    if error is not None:
        _refuse(request, action, req, error)
    try:
        _pkg, queued = packages.ask(req, request.subject, actor=request.user)
    except authz.Denied:
        audit_denied(request, action, req, exc=authz.Denied(code="not_custodian"))
        raise
    except WitnessError as exc:
        messages.error(request, "\n".join(error_lines(exc)))
    else:
        if queued:
            messages.success(request, _("The package of request #%(id)s is queued.")
                             % {"id": req.pk})
    if request.headers.get("HX-Request"):
        return _render(request, req)
    return redirect("export_package", pk=req.pk)


@roles_required("export_package_download")
@require_GET
def export_package_download(request, pk):
    """The package as a tar archive, streamed (memory does not grow with its size); one
    ``evidence.package_download`` entry per download."""
    action = "recording.download"
    req = _package_request(request, pk, action)
    if not packages.may_download(request.subject, req):
        _refuse(request, action, req, authz.Denied(code="not_recipient").error)
    pkg = ExportPackage.objects.filter(request=req, status=PackageStatus.READY).first()
    error = packages.refusal(req, pkg.recordings if pkg else None)
    if error is not None:
        _refuse(request, action, req, error)
    if pkg is None:
        raise Http404
    bag = packages.bag_of(req.pk)
    if not bag.is_dir():
        audit_denied(request, action, req, exc=NotFound(_("The package's folder is missing."),
                                                        code="package_missing"))
        raise Http404
    name = f"witness-request-{req.pk}"
    length, chunks = packages.tar_of(bag, name)
    with transaction.atomic():
        audit.append(request.user, "evidence.package_download", req, details={
            "request": req.pk, "package": pkg.pk, "bytes": length, "format": "tar",
            "tagmanifest_sha256": pkg.tagmanifest_sha256, "recipient": req.recipient_name})
    response = StreamingHttpResponse(chunks, content_type="application/x-tar")
    response["Content-Length"] = str(length)
    response["Content-Disposition"] = f'attachment; filename="{name}.tar"'
    response["Cache-Control"] = "private, no-store"
    return response
