"""Viewing requests, approval steps and grants in the API (EVD-2; issue 5 items 3 and 7).

Every change goes through :mod:`witness.access.chain` (submit, decide, withdraw, revoke),
which checks who may decide or revoke and audits each change. What a person sees here is
what :func:`witness.access.chain.can_view_request` allows, as one query: their own
requests, those whose steps they may decide or decided, and those of the register scope.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from witness.access import authz, chain
from witness.access.models import (
    AccessRequest,
    ApprovalStep,
    Grant,
    RequestKind,
    RequestStatus,
)
from witness.activities.models import Activity, Case
from witness.api import serializers as s
from witness.api.views import Base, listed


def person_of(subject: authz.Subject):
    if subject.person is None:
        raise authz.Denied(_("Your account is not linked to a person of the agency."),
                           code="no_person")
    return subject.person


def visible_requests(subject: authz.Subject):
    """The requests ``subject`` may read (chain.can_view_request, as one query)."""
    person = subject.person
    if person is None or subject.agency is None:
        return AccessRequest.objects.none()
    q = (Q(requester=person) | chain.register_scope_q(subject)
         | Q(pk__in=ApprovalStep.objects.filter(Q(approver=person) | Q(decided_by=person))
             .values("request_id"))
         | Q(pk__in=chain.open_steps_for(person).order_by().values("request_id")))
    return AccessRequest.objects.filter(q, agency=subject.agency)


def visible_grants(subject: authz.Subject):
    """Grants: one's own, and those of the requests in one's register scope."""
    person = subject.person
    if person is None or subject.agency is None:
        return Grant.objects.none()
    return Grant.objects.filter(Q(person=person) | chain.register_scope_q(subject, "request__"),
                                request__agency=subject.agency)


# -- serializers --------------------------------------------------------------------------


class StepSerializer(serializers.ModelSerializer):
    unit = s.UnitRef(allow_null=True)
    approver = s.PersonRef(allow_null=True)
    decided_by = s.PersonRef(allow_null=True)

    class Meta:
        model = ApprovalStep
        fields = ["id", "request", "position", "step", "role", "unit", "approver", "state",
                  "decided_by", "decided_at", "note"]


class RequestSerializer(serializers.ModelSerializer):
    requester = s.PersonRef()
    recordings = serializers.SerializerMethodField()
    steps = StepSerializer(many=True)

    class Meta:
        model = AccessRequest
        fields = ["id", "kind", "status", "requester", "reason", "wanted_from",
                  "wanted_until", "may_download", "activity", "case", "recordings", "steps",
                  "created_at", "decided_at"]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_recordings(self, request):
        """The ids of exactly the recordings asked for."""
        return sorted(item.recording_id for item in request.items.all())


class GrantSerializer(serializers.ModelSerializer):
    person = s.PersonRef(allow_null=True)
    revoked_by = s.PersonRef(allow_null=True)

    class Meta:
        model = Grant
        fields = ["id", "request", "person", "recording", "may_download", "valid_from",
                  "valid_until", "created_at", "revoked_at", "revoked_by", "revoke_reason"]


class RequestInput(serializers.Serializer):
    """Name the recordings, or one activity, or one case (exactly one of the three)."""

    recordings = serializers.ListField(child=s.Id(), required=False, allow_empty=False,
                                       max_length=chain.MAX_ITEMS)
    activity = s.AgencyRelated(Activity, "agency", required=False, allow_null=True,
                               default=None)
    case = s.AgencyRelated(Case, "agency", required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=2000, help_text=_("the reason for viewing "
                                                                "(查阅事由)"))
    wanted_from = s.Moment()
    wanted_until = s.Moment()
    may_download = serializers.BooleanField(default=False)


class RequestFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=RequestStatus.choices, required=False)
    kind = serializers.ChoiceField(choices=RequestKind.choices, required=False)
    mine = serializers.BooleanField(required=False, allow_null=True, default=None,
                                    help_text=_("only my own requests (true)"))


class DecisionInput(serializers.Serializer):
    approve = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="",
                                 max_length=2000,
                                 help_text=_("the reason (needed for a rejection)"))


class RevokeInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class GrantFilter(serializers.Serializer):
    recording = s.Id(required=False)
    in_force = serializers.BooleanField(required=False, allow_null=True, default=None,
                                        help_text=_("only grants in force now (true)"))


# -- views --------------------------------------------------------------------------------


def request_details(qs):
    return qs.select_related("requester").prefetch_related(
        "items", Prefetch("steps", queryset=ApprovalStep.objects.select_related(
            "unit", "approver", "decided_by").order_by("position")))


@extend_schema_view(
    list=listed(RequestFilter, "Viewing requests (查阅申请) the asking person may read: "
                               "their own, those they decide or decided, and those of their "
                               "register scope (request.view)."),
    retrieve=extend_schema(description="A request with its items and steps (request.view)."),
    create=extend_schema(request=RequestInput, responses={201: RequestSerializer},
                         description="Ask to view recordings (EVD-2; request.create); the "
                                     "chain comes from the profile in force."),
)
class RequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     Base):
    serializer_class = RequestSerializer
    filter_class = RequestFilter
    ordering = ("-created_at", "-id")
    policy_actions = {"list": "request.view", "retrieve": "request.view",
                      "create": "request.create", "withdraw": "request.create"}

    def scoped(self):
        return request_details(visible_requests(self.subject))

    def filter_list(self, qs, filters):
        if "status" in filters:
            qs = qs.filter(status=filters["status"])
        if "kind" in filters:
            qs = qs.filter(kind=filters["kind"])
        if filters.get("mine") is not None:
            mine = Q(requester=self.subject.person)
            qs = qs.filter(mine) if filters["mine"] else qs.exclude(mine)
        return qs

    def _answer(self, pk, code=status.HTTP_200_OK):
        request = request_details(AccessRequest.objects.filter(pk=pk)).get()
        return Response(RequestSerializer(request).data, status=code)

    def create(self, request, *args, **kwargs):
        person = person_of(self.subject)
        form = RequestInput(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = form.validated_data
        made = chain.submit(person, recordings=data.get("recordings"),
                            activity=data["activity"], case=data["case"],
                            reason=data["reason"], wanted_from=data["wanted_from"],
                            wanted_until=data["wanted_until"],
                            may_download=data["may_download"], actor=request.user)
        return self._answer(made.pk, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: RequestSerializer},
                   description="The requester withdraws a request still in approval.")
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        target = self.get_object()
        chain.withdraw(target, person_of(self.subject), actor=request.user)
        return self._answer(target.pk)


@extend_schema_view(
    list=extend_schema(description="The open steps the asking person may decide now (the "
                                   "inbox; request.decide)."),
    retrieve=extend_schema(description="One approval step (request.decide)."),
)
class StepViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, Base):
    serializer_class = StepSerializer
    ordering = ("id",)
    policy_actions = {"list": "request.decide", "retrieve": "request.decide",
                      "decide": "request.decide"}

    def scoped(self):
        subject = self.subject
        if self.action == "list":
            qs = chain.open_steps_for(subject.person).order_by()
        else:
            qs = ApprovalStep.objects.filter(request__in=visible_requests(subject))
        return qs.select_related("unit", "approver", "decided_by")

    @extend_schema(request=DecisionInput, responses={200: StepSerializer},
                   description="Approve or reject an open step (审核, 批准, 登记; EVD-2). A "
                               "rejection needs a reason; the custodian's registration "
                               "grants exactly the request's recordings.")
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        step = self.get_object()
        form = DecisionInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        chain.decide(step, person_of(self.subject), data["approve"], data["note"],
                     actor=request.user)
        step = ApprovalStep.objects.select_related("unit", "approver", "decided_by") \
            .get(pk=step.pk)
        return Response(StepSerializer(step).data)


@extend_schema_view(
    list=listed(GrantFilter, "Grants (查阅授权): one's own, and those of the register scope "
                             "(request.view)."),
    retrieve=extend_schema(description="One grant (request.view)."),
)
class GrantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, Base):
    serializer_class = GrantSerializer
    filter_class = GrantFilter
    ordering = ("-created_at", "-id")
    policy_actions = {"list": "request.view", "retrieve": "request.view",
                      "revoke": "grant.revoke"}

    def scoped(self):
        return visible_grants(self.subject).select_related("person", "revoked_by")

    def filter_list(self, qs, filters):
        if "recording" in filters:
            qs = qs.filter(recording_id=filters["recording"])
        if filters.get("in_force") is not None:
            in_force = Q(pk__in=chain.grants_in_force().values("pk"))
            qs = qs.filter(in_force) if filters["in_force"] else qs.exclude(in_force)
        return qs

    @extend_schema(request=RevokeInput, responses={200: GrantSerializer},
                   description="Revoke a grant in force, with the reason (grant.revoke).")
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        grant = self.get_object()
        form = RevokeInput(data=request.data)
        form.is_valid(raise_exception=True)
        chain.revoke(grant, person_of(self.subject), form.validated_data["reason"],
                     actor=request.user)
        grant = Grant.objects.select_related("person", "revoked_by").get(pk=grant.pk)
        return Response(GrantSerializer(grant).data)
