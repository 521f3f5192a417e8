from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Role(models.TextChoices):
    OFFICER = "officer", _("enforcement officer")
    CUSTODIAN = "custodian", _("custodian")
    UNIT_HEAD = "unit_head", _("unit head")
    LEADER = "leader", _("bureau leader")
    LEGAL = "legal", _("legal and supervision")
    SYSADMIN = "sysadmin", _("system administrator")
    SECADMIN = "secadmin", _("security administrator")
    AUDITADMIN = "auditadmin", _("audit administrator")


# 三员分立 (GB/T 22239-2019 level 3): no account holds two of these.
ADMIN_ROLES = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITADMIN})


class Agency(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    code = models.SlugField(_("code"), max_length=50, unique=True)
    principal_leader = models.ForeignKey(
        "Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("principal leader"),
    )

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Unit(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="units",
                               verbose_name=_("agency"))
    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=50)
    has_field_duty = models.BooleanField(_("has field-enforcement duty"), default=False)

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["agency", "name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "code"], name="unit_code_unique"),
            models.UniqueConstraint(fields=["agency", "name"], name="unit_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="people",
                               verbose_name=_("agency"))
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100)
    # 执法证号: only people who hold an enforcement certificate have one.
    badge_number = models.CharField(_("badge number"), max_length=50, null=True, blank=True,
                                    unique=True)
    # Current unit; its dated history is PersonUnitHistory.
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="people",
                             verbose_name=_("unit"))
    active = models.BooleanField(_("active"), default=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                blank=True, related_name="person", verbose_name=_("user account"))

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["unit", "name"]

    def __str__(self) -> str:
        return f"{self.name}（{self.badge_number}）" if self.badge_number else self.name


class PersonUnitHistory(models.Model):
    """A person's unit from ``effective_from`` on (DEV-3 needs the unit at any moment)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="unit_history",
                               verbose_name=_("person"))
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("unit"))
    effective_from = models.DateTimeField(_("effective from"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("unit change")
        verbose_name_plural = _("unit changes")
        ordering = ["person", "effective_from", "id"]
        indexes = [models.Index(fields=["person", "effective_from"])]

    def __str__(self) -> str:
        return f"{self.person.name} → {self.unit.name} @ {self.effective_from:%Y-%m-%d}"


class RoleAssignment(models.Model):
    """A role held from ``effective_from`` until ``effective_to`` (open-ended if null).

    ``unit`` scopes the role where it has a scope (the unit a head heads, the unit a
    custodian keeps devices for); empty means the person's own unit or the whole agency.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="roles",
                               verbose_name=_("person"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+", verbose_name=_("unit scope"))
    effective_from = models.DateTimeField(_("effective from"), default=timezone.now)
    effective_to = models.DateTimeField(_("effective to"), null=True, blank=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        ordering = ["person", "role", "effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(effective_to__isnull=True)
                           | Q(effective_to__gt=models.F("effective_from"))),
                name="role_assignment_period_valid",
            ),
        ]
        indexes = [models.Index(fields=["role", "effective_to"])]

    def __str__(self) -> str:
        return f"{self.person.name}: {self.get_role_display()}"
