"""URL patterns: activity timeline, player markers, printable forms (issue 8 items 2, 3, 5)."""

from django.urls import path

from witness.web.views import markers

urlpatterns = [
    path("recordings/<int:pk>/markers/", markers.marker_add, name="marker_add"),
    path("markers/<int:pk>/delete/", markers.marker_delete, name="marker_delete"),
]
