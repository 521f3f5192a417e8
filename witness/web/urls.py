from django.urls import include, path

from witness.web.views import (
    activities,
    audit,
    auth,
    cases,
    custody,
    device_actions,
    devices,
    home,
    recordings,
    station,
)

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("devices/", devices.device_list, name="device_list"),
    path("devices/new/", device_actions.device_register, name="device_register"),
    path("devices/mine/", devices.my_devices, name="my_devices"),
    path("devices/ledger/", devices.ledger, name="ledger"),
    path("devices/<int:pk>/", devices.device_detail, name="device_detail"),
    path("devices/<int:pk>/issue/", device_actions.device_issue, name="device_issue"),
    path("devices/<int:pk>/return/", device_actions.device_return, name="device_return"),
    path("devices/<int:pk>/check/", device_actions.device_check, name="device_check"),
    path("devices/<int:pk>/event/", device_actions.device_event, name="device_event"),
    path("cases/", cases.case_list, name="case_list"),
    path("cases/new/", cases.case_create, name="case_create"),
    path("cases/<int:pk>/", cases.case_detail, name="case_detail"),
    path("activities/", activities.activity_list, name="activity_list"),
    path("activities/new/", activities.activity_create, name="activity_create"),
    path("activities/<int:pk>/", activities.activity_detail, name="activity_detail"),
    path("recordings/queue/", recordings.assignment_queue, name="assignment_queue"),
    path("recordings/<int:pk>/assign/", recordings.recording_assign, name="recording_assign"),
    path("station/", station.station, name="station"),
    path("station/<int:pk>/retry/", station.station_retry, name="station_retry"),
    path("ingest/runs/<int:pk>/", station.ingest_run, name="ingest_run"),
    path("ingest/upload/", station.ingest_upload, name="ingest_upload"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/entries/<int:pk>/", audit.audit_entry, name="audit_entry"),
    path("audit/checkpoints/", audit.audit_checkpoints, name="audit_checkpoints"),
    path("audit/recording-access/", audit.access_history, name="recording_access"),
    path("custody/<str:kind>/<int:pk>/", custody.custody_report, name="custody_report"),
    path("", include("witness.findings.urls")),  # findings and violations (issue 6 item 2)
    path("review/", include("witness.review.urls")),  # annual review (issue 6 item 3)
]
