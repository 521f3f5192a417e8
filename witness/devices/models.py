from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DeviceKind(models.TextChoices):
    """DEV-1 (A2, B2)."""

    BODY_CAMERA = "body_camera", _("body camera")
    CAMERA = "camera", _("camera")
    RECORDER = "recorder", _("voice recorder")
    VIDEO_CAMERA = "video_camera", _("video camera")
    HANDHELD = "handheld", _("handheld enforcement terminal")
    SURVEILLANCE = "surveillance", _("fixed surveillance camera")
    STORAGE = "storage", _("storage device")


class DeviceStatus(models.TextChoices):
    IN_SERVICE = "in_service", _("in service")
    UNDER_REPAIR = "under_repair", _("under repair")
    LOST = "lost", _("lost")
    RETIRED = "retired", _("retired")


class Device(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=DeviceKind.choices)
    serial = models.CharField(_("serial number"), max_length=100, unique=True)
    model = models.CharField(_("model"), max_length=100, blank=True)
    manufacturer = models.CharField(_("manufacturer"), max_length=100, blank=True)
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="devices",
                             verbose_name=_("owning unit"))
    custodian = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="kept_devices", verbose_name=_("custodian"))
    status = models.CharField(_("status"), max_length=20, choices=DeviceStatus.choices,
                              default=DeviceStatus.IN_SERVICE, db_index=True)
    records_video = models.BooleanField(_("records video"), default=False)
    records_audio = models.BooleanField(_("records audio"), default=False)
    takes_photos = models.BooleanField(_("takes photos"), default=False)
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["unit", "serial"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.serial}"

    @property
    def records_image_and_sound(self) -> bool:
        """DEV-2 counts devices able to record image and sound at once."""
        return self.records_video and self.records_audio


class DeviceIssue(models.Model):
    """One line of the issue/return ledger (领用/归还台账, DEV-3). One holder at a time:
    a partial unique index forbids two open issues of one device."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="issues",
                               verbose_name=_("device"))
    holder = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="held_issues",
                               verbose_name=_("holder"))
    # The holder's unit when the device was handed over (compliance compares later moves).
    holder_unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("holder's unit at issue"))
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+", verbose_name=_("issued by"))
    purpose = models.CharField(_("purpose"), max_length=300, blank=True)
    long_term = models.BooleanField(_("held long-term"), default=False)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    returned_to = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+", verbose_name=_("returned to"))
    return_notes = models.TextField(_("notes on return"), blank=True)

    class Meta:
        verbose_name = _("device issue")
        verbose_name_plural = _("device issues")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["device"], condition=Q(returned_at__isnull=True),
                                    name="device_one_open_issue"),
            models.CheckConstraint(
                condition=Q(returned_at__isnull=True) | Q(returned_at__gte=models.F("issued_at")),
                name="device_issue_return_after_issue",
            ),
        ]
        indexes = [models.Index(fields=["device", "issued_at"])]

    def __str__(self) -> str:
        return f"{self.device.serial} → {self.holder.name} @ {self.issued_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.returned_at is None


class CheckKind(models.TextChoices):
    AT_ISSUE = "at_issue", _("at issue")
    BEFORE_USE = "before_use", _("before use")


class PreUseCheck(models.Model):
    """DEV-4 (A7, B12): battery, free storage, and the time the device shows."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="checks",
                               verbose_name=_("device"))
    issue = models.ForeignKey(DeviceIssue, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="checks", verbose_name=_("ledger entry"))
    kind = models.CharField(_("kind"), max_length=16, choices=CheckKind.choices)
    checked_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("checked by"))
    checked_at = models.DateTimeField(_("server time"), default=timezone.now)
    battery_percent = models.PositiveSmallIntegerField(_("battery %"))
    free_storage_mb = models.PositiveIntegerField(_("free storage (MB)"))
    device_time = models.DateTimeField(_("time shown on the device"))
    drift_seconds = models.IntegerField(_("clock drift (s)"),
                                        help_text=_("device time minus server time"))
    working = models.BooleanField(_("device works"), default=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("pre-use check")
        verbose_name_plural = _("pre-use checks")
        ordering = ["-checked_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(battery_percent__lte=100),
                                   name="check_battery_percent_range"),
        ]

    def __str__(self) -> str:
        return f"{self.device.serial} {self.checked_at:%Y-%m-%d %H:%M} {self.drift_seconds:+d}s"


class EventKind(models.TextChoices):
    """DEV-5 (B9, B11, A18(5), B26(7))."""

    MAINTENANCE = "maintenance", _("maintenance")
    REPAIR = "repair", _("repair")
    UPGRADE = "upgrade", _("upgrade")
    REPLACEMENT = "replacement", _("replacement")
    DAMAGE = "damage", _("damage")
    LOSS = "loss", _("loss")
    COMPENSATION = "compensation", _("compensation")
    FOUND = "found", _("found again")
    RETIREMENT = "retirement", _("retirement")


class DeviceEvent(models.Model):
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="events",
                               verbose_name=_("device"))
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    responsible = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("responsible person"))
    description = models.TextField(_("description"))
    amount_yuan = models.DecimalField(_("amount (yuan)"), max_digits=12, decimal_places=2,
                                      null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+",
                                    verbose_name=_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("device event")
        verbose_name_plural = _("device events")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.device.serial} {self.get_kind_display()}"


class RefusedIssue(models.Model):
    """An attempt to issue a device outside the profile's ``issue_scope`` (DEV-3, A18(3),
    B10). No ledger row is written; this record is what compliance turns into a finding."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="refused_issues",
                               verbose_name=_("device"))
    person = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("intended holder"))
    person_unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("intended holder's unit"))
    attempted_at = models.DateTimeField(_("attempted at"), default=timezone.now)
    attempted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     null=True, blank=True, related_name="+",
                                     verbose_name=_("attempted by"))
    issue_scope = models.CharField(_("issue scope"), max_length=16)
    profile_version = models.ForeignKey("profiles.ProfileVersion", on_delete=models.PROTECT,
                                        related_name="+", verbose_name=_("profile version"))
    # The refusal as the user saw it: the Chinese line, then the English line.
    reason = models.TextField(_("reason"))

    class Meta:
        verbose_name = _("refused device issue")
        verbose_name_plural = _("refused device issues")
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.device.serial} ✗ {self.person.name}"
