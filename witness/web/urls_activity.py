"""URL patterns: activity timeline, player markers, printable forms, activity editing
(issue 8 items 2, 3, 4, 5)."""

from django.urls import path

from witness.web.views import activities, markers

urlpatterns = [
    path("activities/<int:pk>/edit/", activities.activity_edit, name="activity_edit"),
    path("recordings/<int:pk>/markers/", markers.marker_add, name="marker_add"),
    path("markers/<int:pk>/delete/", markers.marker_delete, name="marker_delete"),
]
