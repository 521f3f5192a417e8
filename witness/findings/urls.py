"""URL patterns of the findings workflow and the violation register (issue 6 item 2;
ACT-5 B16, SUP-2)."""

from django.urls import path

from witness.findings import views

urlpatterns = [
    path("findings/", views.finding_list, name="finding_list"),
    path("findings/<int:pk>/", views.finding_detail, name="finding_detail"),
    path("findings/<int:pk>/explain/", views.finding_explain, name="finding_explain"),
    path("findings/<int:pk>/decide/", views.finding_decide, name="finding_decide"),
    path("findings/<int:pk>/escalate/", views.finding_escalate, name="finding_escalate"),
    path("violations/", views.violation_register, name="violation_register"),
    path("violations/csv/", views.violation_csv, name="violation_csv"),
    path("violations/<int:pk>/decide/", views.violation_decide, name="violation_decide"),
]
