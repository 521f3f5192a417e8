"""Forms of the retention, hold and complaint pages (issue 7; RET-1, RET-2)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from witness.retention.models import ComplaintKind, HoldReason


class ProposeForm(forms.Form):
    recording = forms.TypedMultipleChoiceField(label=_("recordings"), coerce=int,
                                               required=False, choices=())
    all_expired = forms.BooleanField(label=_("every expired recording"), required=False)
    note = forms.CharField(label=_("note for the approver"), max_length=2000, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, ids, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recording"].choices = [(i, str(i)) for i in ids]

    def clean(self):
        data = super().clean()
        if not data.get("all_expired") and not data.get("recording"):
            raise forms.ValidationError(_("Choose the recordings, or every expired one."))
        return data


class HoldForm(forms.Form):
    reason = forms.ChoiceField(label=_("reason (A16)"), choices=HoldReason.choices,
                               widget=forms.RadioSelect)
    note = forms.CharField(label=_("what happened"), max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))


class ComplaintForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind"), choices=ComplaintKind.choices)
    complainant = forms.CharField(label=_("complainant"), max_length=200)
    received_at = forms.DateTimeField(
        label=_("received at"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    summary = forms.CharField(label=_("summary"), max_length=4000,
                              widget=forms.Textarea(attrs={"rows": 4}))
