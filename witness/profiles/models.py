from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ProfileVersion(models.Model):
    """An immutable snapshot of a profile's content. Applying a changed file makes a new
    version; activities are judged under the version in force when they happened."""

    name = models.SlugField(_("name"), max_length=100)
    version = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=300)
    content = models.JSONField(_("content"))
    sha256 = models.CharField(_("SHA-256 of the content"), max_length=64)
    source = models.CharField(_("source file"), max_length=500)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("profile version")
        verbose_name_plural = _("profile versions")
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="profile_version_unique"),
            models.UniqueConstraint(fields=["name", "sha256"], name="profile_content_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ProfileActivation(models.Model):
    """From ``effective_from`` on, ``version`` is the agency's active profile."""

    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="activations",
                               verbose_name=_("agency"))
    version = models.ForeignKey(ProfileVersion, on_delete=models.PROTECT,
                                related_name="activations", verbose_name=_("profile version"))
    effective_from = models.DateTimeField(_("effective from"), default=timezone.now)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     null=True, blank=True, related_name="+",
                                     verbose_name=_("activated by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("profile activation")
        verbose_name_plural = _("profile activations")
        ordering = ["agency", "effective_from", "id"]
        indexes = [models.Index(fields=["agency", "effective_from"])]

    def __str__(self) -> str:
        return f"{self.agency}: {self.version} @ {self.effective_from:%Y-%m-%d %H:%M}"
