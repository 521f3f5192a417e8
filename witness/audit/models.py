from django.db import models
from django.utils.translation import gettext_lazy as _

# Tables whose rows database triggers protect from UPDATE and DELETE (and TRUNCATE).
APPEND_ONLY_TABLES = frozenset({"audit_auditentry", "audit_auditleaf", "audit_auditnode",
                                "audit_checkpoint"})


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


class AuditLeaf(models.Model):
    """The Merkle leaf of one entry (issue 4): gap-free ``index`` from 0 in the order the
    sequencer saw the entries commit, and SHA-256(0x00 ‖ canonical entry bytes). Append-only."""

    index = models.BigIntegerField(_("leaf index"), primary_key=True)
    entry = models.OneToOneField(AuditEntry, on_delete=models.PROTECT, related_name="leaf",
                                 verbose_name=_("audit entry"))
    leaf_hash = models.BinaryField(_("leaf hash"), max_length=32)
    sequenced_at = models.DateTimeField(_("sequenced at"))

    class Meta:
        verbose_name = _("audit log leaf")
        verbose_name_plural = _("audit log leaves")
        ordering = ["index"]

    def __str__(self) -> str:
        return f"leaf {self.index}"


class AuditNode(models.Model):
    """The hash of a complete subtree of 2**level leaves (level ≥ 1; leaves are AuditLeaf),
    kept so that any proof needs O(log n) rows. ``completed_by`` is the leaf whose append
    completed it: ``witness audit verify`` streams the nodes in that order. Append-only."""

    level = models.PositiveSmallIntegerField(_("level"))
    index = models.BigIntegerField(_("index"))
    hash = models.BinaryField(_("hash"), max_length=32)
    completed_by = models.BigIntegerField(_("completed by leaf"))

    class Meta:
        verbose_name = _("audit log node")
        verbose_name_plural = _("audit log nodes")
        constraints = [models.UniqueConstraint(fields=["level", "index"],
                                               name="audit_node_level_index")]
        indexes = [models.Index(fields=["completed_by", "level"])]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class Checkpoint(models.Model):
    """A signed statement of the log's size and root at a time (issue 4). The signature
    covers ``canonical.checkpoint_body(tree_size, root hex, time)``. Append-only."""

    tree_size = models.BigIntegerField(_("tree size"))
    root = models.BinaryField(_("root"), max_length=32)
    time = models.CharField(_("time (UTC)"), max_length=32)
    algorithm = models.CharField(_("signature algorithm"), max_length=16)
    key_id = models.CharField(_("key id"), max_length=64)
    public_key = models.BinaryField(_("public key"))
    signature = models.BinaryField(_("signature"))

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        ordering = ["tree_size", "id"]

    def __str__(self) -> str:
        return f"{self.tree_size} @ {self.time}"


class SequencerState(models.Model):
    """One row that the sequencer locks for each batch, so sequencers on several machines
    take turns; business transactions never touch it. The tree's size is not kept here:
    it is the leaves' (a kept copy could disagree with them)."""

    last_sweep = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sequencer state {self.updated_at}"
