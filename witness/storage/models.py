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
    # Set only by an approved removal (the state-secret hand-off, EVD-4; later the approved
    # retention purge, RET-1): the stored objects are gone on purpose, the row stays as the
    # record of what was held. Fixity and replication pass it by; the same bytes are not
    # stored again.
    removed_at = models.DateTimeField(_("content removed at"), null=True, blank=True,
                                      db_index=True)
    removed_because = models.CharField(_("why the content was removed"), max_length=200,
                                       blank=True)

    class Meta:
        verbose_name = _("blob")
        verbose_name_plural = _("blobs")
        ordering = ["-stored_at", "-id"]

    def __str__(self) -> str:
        return f"{self.sha256[:16]}… ({self.size} B)"


def held_blobs():
    """The blobs whose content this system still holds (not removed on approval)."""
    return Blob.objects.filter(removed_at__isnull=True)


class Copy(models.TextChoices):
    PRIMARY = "primary", _("primary store")
    REPLICA = "replica", _("replica store")


class Replica(models.Model):
    """A verified second copy of a blob in the replica store (``WITNESS_REPLICA``): the
    copy's bytes matched every registered digest when it was written (ING-4)."""

    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="replicas",
                             verbose_name=_("blob"))
    # the replica store's location label (file:///… or s3://bucket/prefix…)
    store = models.CharField(_("replica store"), max_length=300)
    backend = models.CharField(_("storage backend"), max_length=8, choices=BackendKind.choices)
    key = models.CharField(_("storage key"), max_length=300)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    replicated_at = models.DateTimeField(_("replicated at"), default=timezone.now)
    verified_at = models.DateTimeField(_("last verified at"), default=timezone.now)

    class Meta:
        verbose_name = _("replica")
        verbose_name_plural = _("replicas")
        ordering = ["-replicated_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["blob", "store"],
                                               name="replica_one_per_blob_and_store")]

    def __str__(self) -> str:
        return f"{self.blob.sha256[:16]}… @ {self.store}"


class FixityResult(models.TextChoices):
    OK = "ok", _("ok")
    MISSING = "missing", _("missing")
    MISMATCH = "mismatch", _("mismatch")
    UNTRACKED = "untracked", _("untracked object")
    REPAIRED = "repaired", _("repaired")


class FixityCheck(models.Model):
    """One re-read of one stored object, or one object in a store that the register does
    not know (``untracked``, no blob). Every digest recorded for the blob is recomputed and
    compared by algorithm name; ``mismatched`` names those that differ (and "size")."""

    run = models.UUIDField(_("run"), db_index=True)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="fixity_checks", verbose_name=_("blob"))
    copy = models.CharField(_("copy"), max_length=8, choices=Copy.choices)
    store = models.CharField(_("store"), max_length=300)
    key = models.CharField(_("storage key"), max_length=1024)
    result = models.CharField(_("result"), max_length=10, choices=FixityResult.choices,
                              db_index=True)
    sha256 = models.CharField(_("SHA-256 read"), max_length=64, blank=True)
    size = models.PositiveBigIntegerField(_("size read (bytes)"), null=True, blank=True)
    digests = models.JSONField(_("digests read"), default=dict, blank=True)
    mismatched = models.JSONField(_("mismatched"), default=list, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    checked_at = models.DateTimeField(_("checked at"), default=timezone.now)

    class Meta:
        verbose_name = _("fixity check")
        verbose_name_plural = _("fixity checks")
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["blob", "checked_at"], name="fixity_blob_checked")]

    def __str__(self) -> str:
        return f"{self.copy} {self.key}: {self.result}"
