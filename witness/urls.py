from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("witness.api.urls")),
    path("", include("witness.accounts.urls")),
    path("", include("witness.confidentiality.urls")),
    path("", include("witness.web.urls_requests")),
    path("", include("witness.web.urls_stream")),
    path("", include("witness.compliance.urls")),
    path("retention/", include("witness.retention.urls")),
    path("preservation/", include("witness.preservation.urls")),
    path("", include("witness.web.urls_daily")),
    path("", include("witness.web.urls_activity")),
    path("", include("witness.web.urls_forms")),
    path("", include("witness.web.urls")),
]
