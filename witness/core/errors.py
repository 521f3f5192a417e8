"""User-facing errors, always shown in Chinese and English.

Source strings are English and marked for translation; the Chinese text comes from the
zh-hans catalogue, so one message serves the web page (in the user's language), the CLI
(both languages) and the API (both, as fields).
"""

from __future__ import annotations

from django.utils import translation


class WitnessError(Exception):
    """Bad input or a refused action. ``message`` is a lazy gettext string with %(name)s."""

    code = "error"

    def __init__(self, message, *, code: str | None = None, **params):
        self.message = message
        self.params = params
        if code:
            self.code = code
        super().__init__(self.en)

    def render(self, language: str) -> str:
        with translation.override(language):
            text = str(self.message)
            return text % self.params if self.params else text

    @property
    def zh(self) -> str:
        return self.render("zh-hans")

    @property
    def en(self) -> str:
        return self.render("en")

    @property
    def bilingual(self) -> str:
        zh, en = self.zh, self.en
        return zh if zh == en else f"{zh}\n{en}"

    def as_dict(self) -> dict:
        return {"code": self.code, "zh": self.zh, "en": self.en}

    def __str__(self) -> str:
        return self.bilingual


def bilingual(message, **params) -> str:
    """A translatable message as stored text: Chinese, then English (one line if equal)."""
    return WitnessError(message, **params).bilingual


def both(text) -> dict[str, str]:
    """A translatable text in each language, ``{"zh": …, "en": …}`` (JSON output, PDFs)."""
    with translation.override("zh-hans"):
        zh = str(text)
    with translation.override("en"):
        en = str(text)
    return {"zh": zh, "en": en}


class NotFound(WitnessError):
    code = "not_found"


class Refused(WitnessError):
    """The rules forbid the action (e.g. an issue outside the profile's scope)."""

    code = "refused"


class Text:
    """A translatable message with parameters, rendered in whatever language is active
    when it is turned into a string (so it can be nested in a WitnessError)."""

    def __init__(self, message, **params):
        self.message = message
        self.params = params

    def __str__(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text
