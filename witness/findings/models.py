from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    INFO = "info", _("information")
    WARNING = "warning", _("warning")
    SERIOUS = "serious", _("serious")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("open")
    EXPLAINED = "explained", _("explained")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("explanation rejected")
    ESCALATED = "escalated", _("escalated")
    CLOSED = "closed", _("closed")
    RESOLVED = "resolved", _("no longer found")


# A rule's run resolves an open finding whose condition is gone, and reopens a resolved one
# that matches again; findings a person has acted on are left to people.
AUTO_RESOLVABLE = (FindingStatus.OPEN,)


class Finding(models.Model):
    """Something a rule found that a person must look at (e.g. a refused device issue)."""

    rule_id = models.CharField(_("rule"), max_length=100, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT,
                                     verbose_name=_("object type"))
    object_id = models.PositiveBigIntegerField(_("object id"))
    subject = GenericForeignKey("content_type", "object_id")
    # Distinguishes several findings of one rule on one object (e.g. two different gaps).
    key = models.CharField(_("key"), max_length=200, blank=True, default="")
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices,
                                default=Severity.WARNING)
    status = models.CharField(_("status"), max_length=16, choices=FindingStatus.choices,
                              default=FindingStatus.OPEN, db_index=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    # Who must explain it and whose unit head decides (issue 6 item 2), where the data says.
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="findings", verbose_name=_("unit"))
    responsible = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="findings",
                                    verbose_name=_("person responsible"))
    # When the thing found happened (the activity's arrival, the recording's start): the
    # month a dashboard counts it in (issue 6 item 4).
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True, db_index=True)
    raised_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule_id", "content_type", "object_id", "key"],
                                    name="finding_unique_per_rule_object_key"),
        ]
        indexes = [models.Index(fields=["content_type", "object_id"]),
                   models.Index(fields=["rule_id", "status"]),
                   models.Index(fields=["unit", "status"])]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.content_type.model}#{self.object_id}"


class ViolationKind(models.TextChoices):
    """The violations A18 and B26 list (SUP-2); ``KIND_ARTICLES`` maps each to its items."""

    NOT_RECORDED = "not_recorded", _("not recording as required")
    TAMPERING = "tampering", _("deleting, altering or faking records")
    MISUSE = "misuse", _("misuse or lending of a device")
    PRIVATE_COPY = "private_copy", _("private copying, keeping or leaking")
    DESTRUCTION = "destruction", _("destroying devices or storage")
    LOSS = "loss", _("losing devices or data")
    COMPLAINT = "complaint", _("recording that led to complaints or bad press")
    OTHER = "other", _("other serious breach")


# Which item of A18 (regulation A, 第十八条) and B26 (regulation B, 第二十六条) each kind is.
KIND_ARTICLES = {
    ViolationKind.NOT_RECORDED: ("A18(1)", "B26(3)"),
    ViolationKind.TAMPERING: ("A18(2)", "B26(1)", "B26(5)"),
    ViolationKind.MISUSE: ("A18(3)", "B26(2)", "B26(6)"),
    ViolationKind.PRIVATE_COPY: ("A18(4)", "B26(4)"),
    ViolationKind.DESTRUCTION: ("A18(5)",),
    ViolationKind.LOSS: ("B26(7)",),
    ViolationKind.COMPLAINT: ("B26(3)",),
    ViolationKind.OTHER: ("A18(6)", "B26(8)"),
}


class ViolationOutcome(models.TextChoices):
    """A18: 批评教育; 情节严重的按照有关规定处理，同时追究责任. B26: 按照有关规定处理; 追究责任.
    The issue adds 通报 (a notice circulated in the agency)."""

    PENDING = "pending", _("pending")
    CRITICISM = "criticism", _("criticism and education")
    CIRCULATED = "circulated", _("circulated notice")
    HANDLED = "handled", _("dealt with under the relevant rules")
    ACCOUNTABILITY = "accountability", _("held accountable under the rules")
    NO_VIOLATION = "no_violation", _("no violation found")


class Violation(models.Model):
    """A registered violation with the person responsible and the outcome (SUP-2)."""

    kind = models.CharField(_("kind"), max_length=32, choices=ViolationKind.choices)
    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="violations", verbose_name=_("finding"))
    responsible_type = models.ForeignKey(ContentType, on_delete=models.PROTECT,
                                         related_name="+", verbose_name=_("responsible type"))
    responsible_id = models.PositiveBigIntegerField(_("responsible id"))
    responsible = GenericForeignKey("responsible_type", "responsible_id")
    description = models.TextField(_("description"))
    outcome = models.CharField(_("outcome"), max_length=32, choices=ViolationOutcome.choices,
                               default=ViolationOutcome.PENDING)
    registered_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                      null=True, blank=True, related_name="+",
                                      verbose_name=_("registered by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("violation")
        verbose_name_plural = _("violations")
        ordering = ["-registered_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class StepKind(models.TextChoices):
    EXPLAIN = "explain", _("explained")
    ACCEPT = "accept", _("explanation accepted")
    REJECT = "reject", _("explanation rejected")
    ESCALATE = "escalate", _("escalated to a violation")
    OUTCOME = "outcome", _("outcome of the violation recorded")


class FindingStep(models.Model):
    """One step of a finding's workflow (issue 6 item 2; ACT-5 B16, SUP-2): who did what,
    when, and what they wrote. A violation's outcome is a step of the violation (and of its
    finding, where it has one). Steps are only ever added."""

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="steps", verbose_name=_("finding"))
    violation = models.ForeignKey(Violation, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="steps", verbose_name=_("violation"))
    kind = models.CharField(_("step"), max_length=16, choices=StepKind.choices)
    person = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("person"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                             blank=True, related_name="+", verbose_name=_("user account"))
    text = models.TextField(_("text"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("finding step")
        verbose_name_plural = _("finding steps")
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(finding__isnull=False) | Q(violation__isnull=False),
                                   name="finding_step_has_finding_or_violation"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.finding_id or ''}/{self.violation_id or ''}"
