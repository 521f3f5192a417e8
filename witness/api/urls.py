"""The REST API under /api/ (issue 5 item 7); its OpenAPI 3 document at /api/schema/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from witness.api import requests, views

router = SimpleRouter()
router.register("devices", views.DeviceViewSet, basename="api-device")
router.register("ledger", views.LedgerViewSet, basename="api-ledger")
router.register("cases", views.CaseViewSet, basename="api-case")
router.register("activities", views.ActivityViewSet, basename="api-activity")
router.register("recordings", views.RecordingViewSet, basename="api-recording")
router.register("requests", requests.RequestViewSet, basename="api-request")
router.register("steps", requests.StepViewSet, basename="api-step")
router.register("grants", requests.GrantViewSet, basename="api-grant")

urlpatterns = [
    path("schema/", views.SchemaView.as_view(), name="api-schema"),
    *router.urls,
]
