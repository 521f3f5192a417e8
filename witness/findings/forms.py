"""Forms of the findings pages and the violation register (issue 6 item 2; SUP-2)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from witness.findings.models import FindingStatus, ViolationKind, ViolationOutcome
from witness.findings.workflow import TEXT_LIMIT
from witness.org.models import Person, Unit
from witness.web.forms import PersonChoiceField, agency_units


class FindingFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, label=_("status"))
    rule = forms.CharField(required=False, max_length=100, label=_("rule"),
                           help_text=_("A rule or requirement, e.g. ACT-5."))
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False,
                                  label=_("unit"), empty_label=_("All units"))

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All states")), *FindingStatus.choices]
        self.fields["unit"].queryset = agency_units(agency)

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        return {"status": data["status"] or None, "rule": data["rule"].strip() or None,
                "unit": data["unit"]}


class ExplainForm(forms.Form):
    text = forms.CharField(label=_("explanation"), max_length=TEXT_LIMIT,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("For an interruption: the technical or objective "
                                       "reason (B16)."))


class EscalateForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind of violation"), choices=ViolationKind.choices)
    person = PersonChoiceField(queryset=Person.objects.none(), required=False,
                               label=_("person responsible"),
                               empty_label=_("The finding's person responsible"))
    description = forms.CharField(label=_("description"), max_length=TEXT_LIMIT,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = (Person.objects.filter(agency=agency, active=True)
                                          .select_related("unit").order_by("unit", "name"))


OUTCOMES = [(value, label) for value, label in ViolationOutcome.choices
            if value != ViolationOutcome.PENDING]


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(label=_("outcome"), choices=OUTCOMES)
    note = forms.CharField(label=_("note"), required=False, max_length=TEXT_LIMIT)


class ViolationFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, label=_("kind"))
    outcome = forms.ChoiceField(required=False, label=_("outcome"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("All kinds")), *ViolationKind.choices]
        self.fields["outcome"].choices = [("", _("All outcomes")), *ViolationOutcome.choices]

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}
