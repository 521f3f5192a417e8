from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BackendKind(models.TextChoices):
    FILE = "file", _("local filesystem")
    S3 = "s3", _("S3-compatible object store")


class Blob(models.Model):
    """The bytes of one original, stored once under its SHA-256 (ING-4).

    Ground floor: no link to recordings or devices. Several recordings may share one blob
    (the same bytes from two devices, ACT-5); the blob is stored and counted once.
    """

    sha256 = models.CharField(
        _("SHA-256"), max_length=64, unique=True,
        validators=[RegexValidator(r"^[0-9a-f]{64}$", _("64 lowercase hexadecimal digits"))])
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    backend = models.CharField(_("storage backend"), max_length=8, choices=BackendKind.choices)
    key = models.CharField(_("storage key"), max_length=300)
    # algorithm name -> lowercase hex, e.g. {"sha256": "…", "sm3": "…"} (the profile's digests)
    digests = models.JSONField(_("digests"), default=dict)
    stored_at = models.DateTimeField(_("stored at"), default=timezone.now)
    verified_at = models.DateTimeField(_("last verified at"), null=True, blank=True,
                                       help_text=_("last successful read-back verification"))

    class Meta:
        verbose_name = _("blob")
        verbose_name_plural = _("blobs")
        ordering = ["-stored_at", "-id"]

    def __str__(self) -> str:
        return f"{self.sha256[:16]}… ({self.size} B)"
