from django.db import models
from django.utils.translation import gettext_lazy as _

# Tables whose rows database triggers protect from UPDATE and DELETE (and TRUNCATE).
APPEND_ONLY_TABLES = frozenset({"audit_auditentry"})


class Outcome(models.TextChoices):
    SUCCESS = "success", _("success")
    FAILURE = "failure", _("failure")
    DENIED = "denied", _("denied")
    REFUSED = "refused", _("refused")


class ActorType(models.TextChoices):
    USER = "user", _("user")
    SYSTEM = "system", _("system")
    ANONYMOUS = "anonymous", _("anonymous")


class AuditEntry(models.Model):
    """One audit record. Rows are never updated or deleted: database triggers reject it.

    The audit issue adds Merkle leaf indices in a table of their own (also append-only),
    so sequencing never needs to touch these rows.
    """

    created_at = models.DateTimeField(_("time (UTC)"), db_index=True)
    actor_type = models.CharField(_("actor type"), max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(_("actor id"), max_length=64, blank=True)
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    client_addr = models.CharField(_("client address"), max_length=64, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"
