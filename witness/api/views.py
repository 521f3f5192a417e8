"""The REST API (issue 5 item 7): devices, the issue/return ledger, cases, activities and
recording metadata. Every operation is a policy action (``policy_actions``), checked by
:class:`witness.api.permissions.PolicyPermission` through witness.access.authz; every
list is scoped by authz (or witness.api.scope) and paged by cursor (no COUNT). Writes go
through the domain services, which audit them; no view writes a row itself.
"""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from witness.access import authz
from witness.activities import services as activities
from witness.activities.models import ActivityOfficer, Case
from witness.api import extensions, scope
from witness.api import serializers as s
from witness.api.pagination import Cursor
from witness.api.permissions import PolicyPermission
from witness.devices import services as devices
from witness.recordings.models import Recording

_SCHEMES = extensions  # registers the authentication schemes of the document


class Base(viewsets.GenericViewSet):
    """Scoped querysets and the subject asking (``self.subject``)."""

    pagination_class = Cursor
    policy_actions: dict[str, str] = {}
    filter_class: type[s.serializers.Serializer] | None = None
    lookup_value_regex = r"[0-9]{1,18}"

    @property
    def subject(self) -> authz.Subject:
        return authz.subject_of(self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "request", None) is not None and self.request.user.is_authenticated:
            context["subject"] = self.subject
        return context

    def filters(self) -> dict:
        """The list's query parameters, validated (400 on a wrong one)."""
        if self.filter_class is None:
            return {}
        form = self.filter_class(data=self.request.query_params)
        form.is_valid(raise_exception=True)
        return {k: v for k, v in form.validated_data.items() if v is not None}

    def scoped(self):  # pragma: no cover - every viewset defines it
        raise NotImplementedError

    def get_queryset(self):
        qs = self.scoped()
        if self.action == "list":
            qs = self.filter_list(qs, self.filters())
        return qs

    def filter_list(self, qs, filters: dict):
        return qs


def listed(filter_class, description: str):
    """Schema of a list operation: its description and query parameters."""
    return extend_schema(description=description, parameters=[filter_class])


# -- devices ------------------------------------------------------------------------------


@extend_schema_view(
    list=listed(s.DeviceFilter, "The agency's devices, by serial number (device.list)."),
    retrieve=extend_schema(description="A device and who holds it now (device.view; an "
                                       "officer: only a device they hold)."),
)
class DeviceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, Base):
    """Devices (DEV-1) and their issue and return (DEV-3, DEV-4)."""

    serializer_class = s.DeviceSerializer
    filter_class = s.DeviceFilter
    ordering = ("serial",)
    policy_actions = {"list": "device.list", "retrieve": "device.view",
                      "mine": "device.mine", "issue": "device.issue",
                      "return_": "device.return"}

    def scoped(self):
        if self.action == "mine":
            subject = self.subject
            qs = scope.visible_devices(subject)
            qs = qs.filter(issues__holder=subject.person, issues__returned_at__isnull=True) \
                if subject.person is not None else qs.none()
            return scope.with_holder(qs)
        return scope.with_holder(scope.visible_devices(self.subject))

    def filter_list(self, qs, filters):
        if "unit" in filters:
            qs = qs.filter(unit_id=filters["unit"])
        if "status" in filters:
            qs = qs.filter(status=filters["status"])
        return qs

    @extend_schema(description="The devices the asking officer holds now (device.mine).",
                   responses=s.DeviceSerializer(many=True))
    @action(detail=False, methods=["get"])
    def mine(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=s.IssueInput,
                   responses={201: s.LedgerSerializer,
                              409: OpenApiResponse(s.Error, description="already out, "
                                                   "not in service, outside the issue "
                                                   "scope")},
                   description="Hand the device to a person with the pre-use check at "
                               "issue (DEV-3, DEV-4; device.issue).")
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        device = self.get_object()
        form = s.IssueInput(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = form.validated_data
        check = None
        if data["check"] is not None:
            person = self.subject.person
            if person is None:
                raise authz.Denied(code="no_person")
            check = {"checked_by": person, **data["check"]}
        issue = devices.issue_device(device, data["holder"], purpose=data["purpose"],
                                     long_term=data["long_term"], actor=request.user,
                                     check=check,
                                     no_check_reason=data["no_check_reason"].strip()
                                     if check is None else "")
        return Response(s.LedgerSerializer(issue).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ReturnInput, responses={200: s.LedgerSerializer},
                   description="Take the device back (DEV-3; device.return: custodians, "
                               "or the officer holding it).")
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, pk=None):
        device = self.get_object()
        form = s.ReturnInput(data=request.data)
        form.is_valid(raise_exception=True)
        issue = devices.return_device(device, notes=form.validated_data["notes"],
                                      actor=request.user)
        issue = type(issue).objects.select_related("device", "holder", "holder_unit") \
            .get(pk=issue.pk)
        return Response(s.LedgerSerializer(issue).data)


@extend_schema_view(
    list=listed(s.LedgerFilter, "The issue/return ledger (台账, DEV-3), newest first "
                                "(device.list)."),
    retrieve=extend_schema(description="One ledger line (device.list)."),
)
class LedgerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, Base):
    serializer_class = s.LedgerSerializer
    filter_class = s.LedgerFilter
    ordering = ("-issued_at", "-id")
    policy_actions = {"list": "device.list", "retrieve": "device.list"}

    def scoped(self):
        return scope.visible_ledger(self.subject).select_related(
            "device", "holder", "holder_unit")

    def filter_list(self, qs, filters):
        if "device" in filters:
            qs = qs.filter(device_id=filters["device"])
        if "unit" in filters:
            qs = qs.filter(device__unit_id=filters["unit"])
        if filters.get("open") is not None:
            qs = qs.filter(returned_at__isnull=filters["open"])
        return qs


# -- cases and activities -----------------------------------------------------------------


@extend_schema_view(
    list=listed(s.CaseFilter, "The agency's cases, newest first (case.view)."),
    retrieve=extend_schema(description="A case (case.view)."),
    create=extend_schema(request=s.CaseInput, responses={201: s.CaseSerializer},
                         description="Open a case (RET-1; case.create)."),
)
class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  Base):
    serializer_class = s.CaseSerializer
    filter_class = s.CaseFilter
    ordering = ("-opened_at", "-id")
    policy_actions = {"list": "case.view", "retrieve": "case.view", "create": "case.create"}

    def scoped(self):
        return authz.visible_cases(self.subject).select_related("leader_in_charge")

    def filter_list(self, qs, filters):
        return qs.filter(status=filters["status"]) if "status" in filters else qs

    def create(self, request, *args, **kwargs):
        form = s.CaseInput(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = form.validated_data
        case = activities.create_case(
            self.subject.agency, number=data["number"], name=data["name"],
            leader_in_charge=data["leader_in_charge"], retention_class=data["retention_class"],
            opened_at=data["opened_at"], actor=request.user)
        case = Case.objects.select_related("leader_in_charge").get(pk=case.pk)
        return Response(s.CaseSerializer(case).data, status=status.HTTP_201_CREATED)


def activity_details(qs):
    return qs.select_related("unit", "case").prefetch_related(
        Prefetch("officers", queryset=ActivityOfficer.objects.select_related("person")
                 .order_by("-is_recorder", "id")),
        "evidence_items")


@extend_schema_view(
    list=listed(s.ActivityFilter, "Enforcement activities, newest first (activity.view; "
                                  "an officer: their own; a unit head: their units')."),
    retrieve=extend_schema(description="An enforcement activity (activity.view)."),
    create=extend_schema(request=s.ActivityInput, responses={201: s.ActivityCreated},
                         description="Record an enforcement activity (ACT-2; "
                                     "activity.create)."),
)
class ActivityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.CreateModelMixin, Base):
    serializer_class = s.ActivitySerializer
    filter_class = s.ActivityFilter
    ordering = ("-arrived_at", "-id")
    policy_actions = {"list": "activity.view", "retrieve": "activity.view",
                      "create": "activity.create"}

    def scoped(self):
        return activity_details(authz.visible_activities(self.subject))

    def filter_list(self, qs, filters):
        for key, lookup in (("unit", "unit_id"), ("case", "case_id"),
                            ("activity_type", "activity_type"),
                            ("arrived_from", "arrived_at__gte"),
                            ("arrived_until", "arrived_at__lt")):
            if key in filters:
                qs = qs.filter(**{lookup: filters[key]})
        return qs

    def create(self, request, *args, **kwargs):
        form = s.ActivityInput(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        activity = activities.create_activity(self.subject.agency, actor=request.user, **data)
        warnings = getattr(activity, "warnings", [])
        activity = activity_details(type(activity).objects.filter(pk=activity.pk)).get()
        activity.warnings = warnings
        return Response(s.ActivityCreated(activity).data, status=status.HTTP_201_CREATED)


# -- recordings ---------------------------------------------------------------------------


@extend_schema_view(
    list=listed(s.RecordingFilter, "Recording metadata, newest ingest first "
                                   "(recording.view, scoped). Content is never here: it "
                                   "is streamed by the player, with a viewing grant."),
    retrieve=extend_schema(description="A recording's metadata (recording.view)."),
)
class RecordingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, Base):
    serializer_class = s.RecordingSerializer
    filter_class = s.RecordingFilter
    ordering = ("-ingested_at", "-id")
    policy_actions = {"list": "recording.view", "retrieve": "recording.view"}

    def scoped(self):
        return authz.visible_recordings(self.subject, Recording.objects.select_related(
            "device", "holder", "blob"))

    def filter_list(self, qs, filters):
        for key, lookup in (("activity", "activity_id"), ("device", "device_id"),
                            ("holder", "holder_id"), ("kind", "kind"),
                            ("attribution", "attribution"), ("label", "label"),
                            ("important", "important"),
                            ("started_from", "started_at__gte"),
                            ("started_until", "started_at__lt")):
            if key in filters:
                qs = qs.filter(**{lookup: filters[key]})
        return qs


# -- the schema ---------------------------------------------------------------------------


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 document of this API, as JSON (any signed-in account)."""

    renderer_classes = [OpenApiJsonRenderer]
    permission_classes = [PolicyPermission]
    policy_actions = {"get": "home"}
