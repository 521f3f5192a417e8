"""URL patterns of the label and state-secret hand-off pages (issue 5 item 4; EVD-4)."""

from django.urls import path

from witness.confidentiality import views

urlpatterns = [
    path("labels/", views.label_changes, name="label_changes"),
    path("labels/new/", views.label_change_new, name="label_change_new"),
    path("labels/<int:pk>/decide/", views.label_change_decide, name="label_change_decide"),
    path("secret/", views.secret_handoffs, name="secret_handoffs"),
    path("secret/<int:pk>/", views.secret_handoff, name="secret_handoff"),
]
