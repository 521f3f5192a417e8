from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("witness.api.urls")),
    path("", include("witness.accounts.urls")),
    path("", include("witness.confidentiality.urls")),
    path("", include("witness.web.urls_requests")),
    path("", include("witness.web.urls_stream")),
    path("", include("witness.compliance.urls")),
    path("", include("witness.web.urls")),
]
