"""Which file-name patterns apply to which device model (issue 3 item 3; DEV-3, ACT-5).

A device model without a configured list uses ``naming.DEFAULT`` (every built-in pattern,
most specific first). ``assign`` gives a model its own ordered list, drawn from the
built-in patterns and the agency's own (``add_pattern``); each change is audited with
what it replaced. The ingest asks ``for_model`` once per run with the registered device's
model, else the ``MODEL=`` of the volume's identity file.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import WitnessError

from . import naming
from .models import CustomNamePattern, ModelNaming


def known() -> dict[str, naming.NamePattern]:
    """The built-in patterns and the agency's own, by name."""
    found = dict(naming.PATTERNS)
    for p in CustomNamePattern.objects.all():
        found[p.name] = naming.NamePattern.custom(p.name, p.regex, p.example)
    return found


def for_model(model: str | None) -> tuple[naming.NamePattern, ...]:
    row = ModelNaming.objects.filter(model=model).first() if model else None
    if row is None:
        return naming.DEFAULT
    return for_names(row.patterns)


def add_pattern(name: str, regex: str, example: str, *, actor) -> CustomNamePattern:
    """A new pattern: a valid expression with the allowed groups, a name no other pattern
    has, and an example file name that it reads (so a typo cannot pass unnoticed)."""
    if name in naming.PATTERNS or CustomNamePattern.objects.filter(name=name).exists():
        raise WitnessError(_("A file-name pattern named %(name)s already exists."),
                           code="duplicate_name_pattern", name=name)
    pattern = naming.NamePattern.custom(name, regex, example)
    facts = naming.parse_name(example, (pattern,))
    if facts is None:
        raise WitnessError(_("The pattern %(name)s does not read its own example "
                             "%(example)s; check the expression and the example."),
                           code="example_not_matched", name=name, example=example)
    with transaction.atomic():
        row = CustomNamePattern.objects.create(name=name, regex=regex, example=example)
        audit.append(actor, "naming.pattern_add", row, details={
            "name": name, "regex": regex, "example": example,
            "reads": {"start": facts.start.isoformat(), "seq": facts.seq,
                      "serial": facts.serial, "badge": facts.badge}})
    return row


def assign(model: str, names: list[str] | None, *, actor) -> ModelNaming | None:
    """Give ``model`` the patterns ``names`` in that order; ``None`` returns it to the
    default list."""
    model = (model or "").strip()
    if not model:
        raise WitnessError(_("Name the device model."), code="model_required")
    if names is not None:
        if not names:
            raise WitnessError(_("Name at least one pattern for %(model)s."),
                               code="patterns_required", model=model)
        for_names(names)  # every name must exist
    with transaction.atomic():
        row = ModelNaming.objects.select_for_update().filter(model=model).first()
        before = list(row.patterns) if row else None
        result = None
        if names is not None:
            result, _created = ModelNaming.objects.update_or_create(
                model=model, defaults={"patterns": list(names)})
        audit.append(actor, "naming.assign", result or row, details={
            "model": model, "before": before, "after": list(names) if names else None})
        if names is None and row is not None:
            row.delete()
    return result


def for_names(names: list[str]) -> tuple[naming.NamePattern, ...]:
    return naming.patterns_named(names, known())
