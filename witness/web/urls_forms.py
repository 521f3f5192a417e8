"""Printable forms (issue 8 item 5): a print page and a PDF each (witness.web.views.forms)."""

from django.urls import path

from witness.web.views import forms

urlpatterns = [
    path("forms/devices/", forms.device_register, name="form_device_register"),
    path("forms/devices/pdf/", forms.device_register_pdf, name="form_device_register_pdf"),
    path("forms/viewing-register/", forms.viewing_register, name="form_viewing_register"),
    path("forms/work-records/<int:pk>/", forms.work_record, name="form_work_record"),
    path("forms/work-records/<int:pk>/pdf/", forms.work_record_pdf,
         name="form_work_record_pdf"),
    path("forms/explanation/<str:kind>/<int:pk>/", forms.explanation,
         name="form_explanation"),
    path("forms/explanation/<str:kind>/<int:pk>/pdf/", forms.explanation_pdf,
         name="form_explanation_pdf"),
    path("forms/review/<int:pk>/", forms.review_sheet, name="form_review_sheet"),
    path("forms/review/<int:pk>/pdf/", forms.review_sheet_pdf, name="form_review_sheet_pdf"),
]
