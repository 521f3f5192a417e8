"""URL patterns of witness.retention, included under /retention/ by witness/urls.py."""

from django.urls import path

from witness.retention import views

urlpatterns = [
    path("", views.retention_batches, name="retention_batches"),
    path("propose/", views.retention_propose, name="retention_propose"),
    path("batches/<int:pk>/", views.retention_batch, name="retention_batch"),
    path("batches/<int:pk>/decide/", views.retention_decide, name="retention_decide"),
    path("holds/", views.hold_list, name="hold_list"),
    path("holds/new/", views.hold_new, name="hold_new"),
    path("holds/<int:pk>/decide/", views.hold_decide, name="hold_decide"),
    path("complaints/new/", views.complaint_new, name="complaint_new"),
]
