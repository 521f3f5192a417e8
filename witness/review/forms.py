"""Forms of the review pages: the shape of the input; the rules are the services'."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.org.models import Unit
from witness.review.models import CampaignKind, Criterion, Result
from witness.web.forms import DateInput, DateTimeLocalInput, PeopleChoiceField, agency_people


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    kind = forms.ChoiceField(label=_("kind"), choices=CampaignKind.choices,
                             initial=CampaignKind.ANNUAL)
    period_from = forms.DateField(label=_("period from"), widget=DateInput())
    period_to = forms.DateField(label=_("period to"), widget=DateInput())
    units = forms.ModelMultipleChoiceField(label=_("units"), queryset=Unit.objects.none(),
                                           widget=forms.CheckboxSelectMultiple)
    per_unit = forms.IntegerField(label=_("activities per unit"), initial=3, min_value=1,
                                  max_value=100)
    per_officer = forms.IntegerField(label=_("activities per officer"), initial=1,
                                     min_value=0, max_value=100, help_text=_(
                                         "Each officer is on at least this many sampled "
                                         "activities (0: no officer stratum)."))
    seed = forms.IntegerField(label=_("seed"), required=False, min_value=0,
                              max_value=2**31 - 1, help_text=_(
                                  "Empty: chosen at random. The seed is stored; the same "
                                  "seed draws the same sample."))
    reviewers = PeopleChoiceField(label=_("reviewers"), queryset=None,
                                  widget=forms.CheckboxSelectMultiple)
    valid_until = forms.DateTimeField(label=_("viewing valid until"),
                                      widget=DateTimeLocalInput())
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(
        attrs={"rows": 2}))

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["units"].queryset = Unit.objects.filter(agency=agency).order_by("name")
        self.fields["reviewers"].queryset = agency_people(agency).filter(user__isnull=False)
        if not self.is_bound:
            self.initial.setdefault("valid_until", (timezone.localtime() + timedelta(
                days=30)).replace(second=0, microsecond=0))


class ScoreForm(forms.Form):
    """One result and one note per criterion of the checklist (SUP-3)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for c in Criterion:
            self.fields[f"result_{c.value}"] = forms.ChoiceField(
                label=c.label, choices=Result.choices, required=False,
                widget=forms.RadioSelect)
            self.fields[f"note_{c.value}"] = forms.CharField(
                label=_("note"), required=False, max_length=1000)

    def rows(self):
        return [(c, self[f"result_{c.value}"], self[f"note_{c.value}"]) for c in Criterion]

    def results(self) -> dict[str, str]:
        return {c.value: self.cleaned_data.get(f"result_{c.value}") or ""
                for c in Criterion}

    def notes(self) -> dict[str, str]:
        return {c.value: self.cleaned_data.get(f"note_{c.value}") or "" for c in Criterion}
