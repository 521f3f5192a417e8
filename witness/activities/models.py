from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from witness.access.labels import label_field


class RetentionClass(models.TextChoices):
    """How long a case file (and the recordings used as its evidence) is kept (RET-1, B21).
    Terms follow the archive periods of DA/T 22-2015: 10 years, 30 years, permanent."""

    Y10 = "10y", _("10 years")
    Y30 = "30y", _("30 years")
    PERMANENT = "permanent", _("permanent")


class CaseStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("case status", "open")
    CLOSED = "closed", pgettext_lazy("case status", "closed")
    ARCHIVED = "archived", pgettext_lazy("case status", "archived")


class Case(models.Model):
    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="cases",
                               verbose_name=_("agency"))
    number = models.CharField(_("case number"), max_length=100, unique=True)
    name = models.CharField(_("case name"), max_length=300)
    leader_in_charge = models.ForeignKey("org.Person", on_delete=models.PROTECT,
                                         related_name="cases_in_charge",
                                         verbose_name=_("leader in charge"))
    retention_class = models.CharField(_("retention class"), max_length=16,
                                       choices=RetentionClass.choices, default=RetentionClass.Y30)
    status = models.CharField(_("status"), max_length=16, choices=CaseStatus.choices,
                              default=CaseStatus.OPEN, db_index=True)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    label = label_field()  # EVD-4

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Activity(models.Model):
    """An on-site enforcement activity (ACT-2: A8, A10, A11, B12, B15)."""

    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="activities",
                               verbose_name=_("agency"))
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="activities",
                             verbose_name=_("unit"))
    # A code from the activity_types of the profile in force at arrived_at (ACT-1).
    activity_type = models.CharField(_("activity type"), max_length=50, db_index=True)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="activities", verbose_name=_("case"))
    place = models.CharField(_("place"), max_length=300)
    arrived_at = models.DateTimeField(_("arrival"), db_index=True)
    label = label_field()  # EVD-4
    departed_at = models.DateTimeField(_("departure"))
    party = models.CharField(_("party"), max_length=300, blank=True)
    scene = models.TextField(_("scene"), blank=True)
    party_conduct = models.TextField(_("party's conduct"), blank=True)
    violations_found = models.TextField(_("violations found"), blank=True)
    # ING-2 (A13, B20): the 24-hour exception applies only to these.
    off_site = models.BooleanField(_("off-site duty"), default=False)
    remote = models.BooleanField(_("remote area"), default=False)
    continuous = models.BooleanField(_("continuous duty"), default=False)
    returned_to_unit_at = models.DateTimeField(_("returned to the unit at"), null=True,
                                               blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("enforcement activity")
        verbose_name_plural = _("enforcement activities")
        ordering = ["-arrived_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(departed_at__gte=models.F("arrived_at")),
                                   name="activity_departure_after_arrival"),
        ]
        indexes = [models.Index(fields=["unit", "arrived_at"])]

    def __str__(self) -> str:
        return f"{self.place} {timezone.localtime(self.arrived_at):%Y-%m-%d %H:%M}"

    @property
    def exception_flagged(self) -> bool:
        return self.off_site or self.remote or self.continuous


class ActivityOfficer(models.Model):
    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="officers",
                                 verbose_name=_("activity"))
    person = models.ForeignKey("org.Person", on_delete=models.PROTECT,
                               related_name="activity_roles", verbose_name=_("officer"))
    is_recorder = models.BooleanField(_("designated recorder"), default=False)

    class Meta:
        verbose_name = _("activity officer")
        verbose_name_plural = _("activity officers")
        ordering = ["activity", "-is_recorder", "id"]
        constraints = [
            models.UniqueConstraint(fields=["activity", "person"], name="activity_officer_once"),
            models.UniqueConstraint(fields=["activity"], condition=Q(is_recorder=True),
                                    name="activity_one_recorder"),
        ]

    def __str__(self) -> str:
        return f"{self.person.name}{'（记录人）' if self.is_recorder else ''}"


class EvidenceItem(models.Model):
    """A key evidence item or enforcement moment that needs a photo (ACT-2, A11)."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE,
                                 related_name="evidence_items", verbose_name=_("activity"))
    description = models.CharField(_("description"), max_length=300)

    class Meta:
        verbose_name = _("key evidence item")
        verbose_name_plural = _("key evidence items")
        ordering = ["activity", "id"]

    def __str__(self) -> str:
        return self.description


class WorkRecordKind(models.TextChoices):
    """What a work record (工作记录, ACT-4) is for: an activity not recorded at all (B7, and
    A14 for secrets), or a recording stopped (A12)."""

    EXEMPTION = "exemption", _("not recorded at all")
    STOP = "stop", _("recording stopped")


class WorkRecordReason(models.TextChoices):
    """The reasons A12 and B7 allow (ACT-4). The first four allow not recording at all
    (B7), the last four stopping (A12)."""

    STATE_SECRET = "state_secret", _("state secret")
    COMMERCIAL_SECRET = "commercial_secret", _("commercial secret")
    PRIVACY = "privacy", _("personal privacy")
    OBJECTIVE = "objective", _("objective reasons prevent recording")
    DEVICE_FAILURE = "device_failure", _("device failure, flat battery or full storage")
    WEATHER = "weather", _("bad weather or other natural causes")
    OBSTRUCTION = "obstruction", _("obstruction by the party or others")
    FORCE_MAJEURE = "force_majeure", _("other force majeure")


# Which reasons each kind of work record may give (A12, B7).
REASONS_FOR = {
    WorkRecordKind.EXEMPTION: (WorkRecordReason.STATE_SECRET, WorkRecordReason.COMMERCIAL_SECRET,
                               WorkRecordReason.PRIVACY, WorkRecordReason.OBJECTIVE),
    WorkRecordKind.STOP: (WorkRecordReason.DEVICE_FAILURE, WorkRecordReason.WEATHER,
                          WorkRecordReason.OBSTRUCTION, WorkRecordReason.FORCE_MAJEURE),
}


class WorkRecord(models.Model):
    """A work record (工作记录) for an activity not recorded, or whose recording stopped,
    with the reason and its basis (ACT-4: A12, B7). Where the profile in force at the
    activity's arrival asks for it (``recording.work_record_review``), the principal leader
    or the unit head reviews it. Never deleted."""

    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="work_records",
                                 verbose_name=_("activity"))
    kind = models.CharField(_("kind"), max_length=16, choices=WorkRecordKind.choices)
    reason = models.CharField(_("reason"), max_length=32, choices=WorkRecordReason.choices)
    basis = models.TextField(_("reason and basis"))
    written_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("written by"))
    written_at = models.DateTimeField(_("written at"), default=timezone.now)
    reviewed_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+", verbose_name=_("reviewed by"))
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)

    class Meta:
        verbose_name = _("work record")
        verbose_name_plural = _("work records")
        ordering = ["activity", "written_at", "id"]
        indexes = [models.Index(fields=["activity", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_reason_display()}"
