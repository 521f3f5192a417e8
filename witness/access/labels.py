"""Confidentiality labels (EVD-4) on recordings, activities and cases.

A plain module (no models) so that the recordings and activities apps can use the choices
without depending on the access app's tables.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Label(models.TextChoices):
    GENERAL = "general", _("general (一般)")
    INTERNAL = "internal", _("internal (内部)")
    PRIVACY = "privacy", _("personal privacy (个人隐私)")
    COMMERCIAL = "commercial", _("commercial secret (商业秘密)")
    # Content so marked does not belong on this system: the label starts a hand-off.
    STATE_SECRET = "state_secret", _("state secret (国家秘密)")


# Labels above 一般: every approval chain touching such an item adds the approver the
# profile names (viewing.label_approver).
RESTRICTED = frozenset({Label.INTERNAL, Label.PRIVACY, Label.COMMERCIAL, Label.STATE_SECRET})

LABEL_MAX_LENGTH = 16


def label_field():
    return models.CharField(_("confidentiality label"), max_length=LABEL_MAX_LENGTH,
                            choices=Label.choices, default=Label.GENERAL, db_index=True)
