"""Forms of the label and hand-off pages (issue 5 item 4; EVD-4)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from witness.access.labels import Label


class LabelChangeForm(forms.Form):
    label = forms.ChoiceField(label=_("new label"), choices=())
    reason = forms.CharField(label=_("reason"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, current: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].choices = [(v, lbl) for v, lbl in Label.choices if v != current]


class ExportForm(forms.Form):
    medium = forms.CharField(label=_("medium"), max_length=100,
                             help_text=_("e.g. DVD-R, Blu-ray disc"))
    medium_id = forms.CharField(label=_("medium identifier"), max_length=200,
                                help_text=_("the number written on the disc"))
    held_at = forms.CharField(label=_("where it is held"), max_length=300)
    held_by = forms.CharField(label=_("who holds it"), max_length=200)
    exported_at = forms.DateTimeField(
        label=_("exported at"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    reference = forms.CharField(label=_("export reference"), max_length=200, required=False,
                                help_text=_("e.g. the export package's number"))


class ApproveRemovalForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))
