"""Password policy (issue 5 item 6; GB/T 22239-2019 level 3, identification and
authentication: passwords of sufficient complexity). Django's validators in
settings.AUTH_PASSWORD_VALIDATORS check the length (10), likeness to the user's own data,
common and all-digit passwords; this one adds the usual 等保 rule of character classes."""

from __future__ import annotations

import string

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

CLASSES = (
    ("upper", gettext_lazy("capital letters")),
    ("lower", gettext_lazy("small letters")),
    ("digit", gettext_lazy("digits")),
    ("symbol", gettext_lazy("symbols")),
)


def classes_of(password: str) -> set[str]:
    """Which of the four classes a password uses. Letters other than A–Z (such as Chinese
    characters) count as symbols: they are neither capital nor small Latin letters."""
    found = set()
    for char in password:
        if char in string.ascii_uppercase:
            found.add("upper")
        elif char in string.ascii_lowercase:
            found.add("lower")
        elif char in string.digits:
            found.add("digit")
        else:
            found.add("symbol")
    return found


class CharacterClassValidator:
    """At least ``min_classes`` (default 3) of: capital letters, small letters, digits,
    symbols. A passphrase of at least ``passphrase_length`` characters (default 20) needs
    two kinds only ("seven horses cross the river": small letters and spaces): its length
    gives it more strength than the kinds would."""

    def __init__(self, min_classes: int = 3, passphrase_length: int = 20):
        if not 1 <= min_classes <= len(CLASSES):
            raise ValueError("min_classes must be between 1 and 4")
        self.min_classes = min_classes
        self.passphrase_length = passphrase_length

    def required(self, password: str) -> int:
        if len(password) >= self.passphrase_length:
            return min(2, self.min_classes)
        return self.min_classes

    def validate(self, password, user=None):
        password = password or ""
        if len(classes_of(password)) < self.required(password):
            raise ValidationError(self.message(), code="password_too_simple",
                                  params={"min": self.min_classes})

    def message(self) -> str:
        return _("This password uses too few kinds of characters: use at least %(min)s of "
                 "capital letters, small letters, digits and symbols.")

    def get_help_text(self) -> str:
        return _("Your password must use at least %(min)s of: capital letters, small "
                 "letters, digits and symbols (a passphrase of %(long)s characters or more: "
                 "two of them).") % {"min": self.min_classes, "long": self.passphrase_length}
