"""Who may see a recording's content, and on whose approval (EVD-2, EVD-3, EVD-4).

Nobody plays or downloads content without a :class:`Grant` (except what the active profile
allows in ``viewing.without_grant``). A grant comes only from an :class:`AccessRequest`
that went through every :class:`ApprovalStep` of the profile's ``viewing_chain`` — review
by the requester's unit head (审核), approval by the case's leader in charge (批准), the
approver the profile names for labelled items, and the custodian's registration (登记) —
and covers exactly the request's :class:`RequestItem` rows, for the period approved.

A disclosure outside the agency (EVD-3) is the same request with ``kind = disclosure``:
what leaves is an export package or a :class:`DisclosureLink` for a named recipient.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RequestKind(models.TextChoices):
    VIEWING = "viewing", _("viewing (查阅)")
    DISCLOSURE = "disclosure", _("disclosure outside the agency (提供)")
    REVIEW = "review", _("annual review (评查)")  # SUP-1: a campaign's reviewers


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("in approval")
    GRANTED = "granted", _("granted")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")


class RecipientKind(models.TextChoices):
    PARTY = "party", _("the party (当事人)")
    OTHER_UNIT = "other_unit", _("another unit (其他单位)")
    COURT = "court", _("a court (人民法院)")


class Delivery(models.TextChoices):
    PACKAGE = "package", _("export package")
    LINK = "link", _("time-limited read-only link")


class AccessRequest(models.Model):
    """A request to view recordings (查阅申请) or to disclose them outside the agency."""

    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    kind = models.CharField(_("kind"), max_length=12, choices=RequestKind.choices,
                            default=RequestKind.VIEWING)
    # Who will view (viewing), or the officer who asks to disclose (disclosure).
    requester = models.ForeignKey("org.Person", on_delete=models.PROTECT,
                                  related_name="access_requests", verbose_name=_("requester"))
    reason = models.TextField(_("reason (查阅事由)"))
    wanted_from = models.DateTimeField(_("wanted from"))
    wanted_until = models.DateTimeField(_("wanted until"))
    may_download = models.BooleanField(_("download asked for"), default=False)
    # What was asked for; the items are exactly the recordings the grant will cover.
    activity = models.ForeignKey("activities.Activity", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+", verbose_name=_("activity"))
    case = models.ForeignKey("activities.Case", on_delete=models.PROTECT, null=True,
                             blank=True, related_name="+", verbose_name=_("case"))
    status = models.CharField(_("status"), max_length=12, choices=RequestStatus.choices,
                              default=RequestStatus.PENDING, db_index=True)
    # Disclosure only.
    recipient_kind = models.CharField(_("recipient kind"), max_length=12,
                                      choices=RecipientKind.choices, blank=True)
    recipient_name = models.CharField(_("recipient"), max_length=200, blank=True)
    recipient_org = models.CharField(_("recipient's organisation"), max_length=200, blank=True)
    delivery = models.CharField(_("delivery"), max_length=10, choices=Delivery.choices,
                                blank=True)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("entered by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("access request")
        verbose_name_plural = _("access requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(wanted_until__gt=F("wanted_from")),
                                   name="access_request_period_valid"),
            models.CheckConstraint(
                # a review's viewing (SUP-1, witness.review) names no recipient either
                condition=Q(kind__in=[RequestKind.VIEWING, RequestKind.REVIEW])
                | (Q(kind=RequestKind.DISCLOSURE) & ~Q(recipient_name="")
                   & ~Q(recipient_kind="") & ~Q(delivery="")),
                name="disclosure_names_recipient"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.requester}"


class RequestItem(models.Model):
    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="items",
                                verbose_name=_("request"))
    recording = models.ForeignKey("recordings.Recording", on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("recording"))

    class Meta:
        verbose_name = _("requested recording")
        verbose_name_plural = _("requested recordings")
        constraints = [models.UniqueConstraint(fields=["request", "recording"],
                                               name="request_item_once")]

    def __str__(self) -> str:
        return f"#{self.request_id}: {self.recording_id}"


class Step(models.TextChoices):
    UNIT_HEAD_REVIEW = "unit_head_review", _("unit head review (审核)")
    LEADER_APPROVAL = "leader_approval", _("leader in charge approval (批准)")
    PRINCIPAL_LEADER_APPROVAL = "principal_leader_approval", _("principal leader approval")
    LABEL_APPROVAL = "label_approval", _("approval for labelled items")
    CUSTODIAN_REGISTRATION = "custodian_registration", _("custodian registration (登记)")


class StepState(models.TextChoices):
    WAITING = "waiting", _("waiting for an earlier step")
    OPEN = "open", _("to decide")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    CANCELLED = "cancelled", _("cancelled")


class ApprovalStep(models.Model):
    """One step of a request's chain. ``approver`` names the one person who decides (the
    case's leader in charge, the principal leader); otherwise any holder of ``role`` whose
    scope covers ``unit`` decides (a unit head of the requester's unit, a custodian)."""

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="steps",
                                verbose_name=_("request"))
    position = models.PositiveSmallIntegerField(_("position"))
    step = models.CharField(_("step"), max_length=32, choices=Step.choices)
    role = models.CharField(_("role"), max_length=16)
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+", verbose_name=_("unit"))
    approver = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("approver"))
    state = models.CharField(_("state"), max_length=10, choices=StepState.choices,
                             default=StepState.WAITING, db_index=True)
    decided_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    note = models.TextField(_("note or reason"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("approval step")
        verbose_name_plural = _("approval steps")
        ordering = ["request", "position"]
        constraints = [models.UniqueConstraint(fields=["request", "position"],
                                               name="approval_step_position_once")]
        indexes = [models.Index(fields=["state", "role"])]

    def __str__(self) -> str:
        return f"#{self.request_id}/{self.position} {self.step}: {self.state}"


class Grant(models.Model):
    """Leave to play (and, where approved, download) one recording for a period. A
    disclosure link's grant has no ``person``: the link's recipient is its viewer."""

    request = models.ForeignKey(AccessRequest, on_delete=models.PROTECT, related_name="grants",
                                verbose_name=_("request"))
    person = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="grants", verbose_name=_("viewer"))
    recording = models.ForeignKey("recordings.Recording", on_delete=models.PROTECT,
                                  related_name="grants", verbose_name=_("recording"))
    may_download = models.BooleanField(_("may download"), default=False)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    created_at = models.DateTimeField(_("granted at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+", verbose_name=_("revoked by"))
    revoke_reason = models.TextField(_("why revoked"), blank=True)

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "recording"], name="grant_once"),
            models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")),
                                   name="grant_period_valid"),
        ]
        indexes = [models.Index(fields=["person", "recording", "valid_until"])]

    def __str__(self) -> str:
        return f"{self.person or self.request.recipient_name} → {self.recording_id}"


def active_grants(at=None):
    """Grants in force at ``at`` (now): begun, not expired, not revoked."""
    at = at or timezone.now()
    return Grant.objects.filter(valid_from__lte=at, valid_until__gt=at, revoked_at__isnull=True)


class DisclosureLink(models.Model):
    """A time-limited read-only link for a named recipient (EVD-3). Only the SHA-256 of
    the token is kept; the token itself is shown once, to the custodian who issues it."""

    request = models.ForeignKey(AccessRequest, on_delete=models.PROTECT, related_name="links",
                                verbose_name=_("request"))
    token_sha256 = models.CharField(_("token digest"), max_length=64, unique=True)
    recipient_name = models.CharField(_("recipient"), max_length=200)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    created_at = models.DateTimeField(_("issued at"), default=timezone.now)
    created_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("issued by"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+", verbose_name=_("revoked by"))

    class Meta:
        verbose_name = _("disclosure link")
        verbose_name_plural = _("disclosure links")
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")),
                                              name="disclosure_link_period_valid")]

    def __str__(self) -> str:
        return f"#{self.request_id} → {self.recipient_name}"


class PlaySession(models.Model):
    """One play start or download (one audit entry each); the range requests of a play
    carry its token, so seeking does not write an entry per request."""

    token = models.CharField(_("token"), max_length=64, unique=True)
    recording = models.ForeignKey("recordings.Recording", on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("recording"))
    person = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("viewer"))
    link = models.ForeignKey(DisclosureLink, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+", verbose_name=_("disclosure link"))
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("grant"))
    download = models.BooleanField(_("download"), default=False)
    playback_copy = models.BooleanField(_("playback copy"), default=False)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("play session")
        verbose_name_plural = _("play sessions")

    def __str__(self) -> str:
        return f"{'download' if self.download else 'play'} {self.recording_id}"


class Notification(models.Model):
    """An entry in a person's in-app inbox: a step waiting for them, or news of their
    request. ``kind`` names the template; the text is rendered in the reader's language."""

    person = models.ForeignKey("org.Person", on_delete=models.CASCADE,
                               related_name="notifications", verbose_name=_("person"))
    kind = models.CharField(_("kind"), max_length=40)
    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, null=True,
                                blank=True, related_name="notifications",
                                verbose_name=_("request"))
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["person", "read_at"])]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.kind}"
