"""URL patterns of the viewing requests, the approvals inbox and the viewing register
(issue 5 item 3, EVD-2) and of disclosure requests (issue 5 item 5, EVD-3)."""

from django.urls import path

from witness.web.views import requests, requests_inbox, requests_register

urlpatterns = [
    path("requests/", requests.request_list, name="request_list"),
    path("requests/new/", requests.request_new, name="request_new"),
    path("requests/disclosure/new/", requests.disclosure_new, name="disclosure_new"),
    path("requests/<int:pk>/", requests.request_detail, name="request_detail"),
    path("requests/<int:pk>/withdraw/", requests.request_withdraw, name="request_withdraw"),
    path("requests/<int:pk>/revoke/", requests.request_revoke, name="request_revoke"),
    path("grants/<int:pk>/revoke/", requests.grant_revoke, name="grant_revoke"),
    path("inbox/", requests_inbox.inbox, name="inbox"),
    path("inbox/read/", requests_inbox.notification_read, name="notification_read"),
    path("steps/<int:pk>/decide/", requests_inbox.step_decide, name="step_decide"),
    path("steps/<int:pk>/register/", requests_inbox.step_register, name="step_register"),
    path("register/", requests_register.register, name="register"),
    path("register/export.csv", requests_register.register_csv, name="register_csv"),
    path("register/export.pdf", requests_register.register_pdf, name="register_pdf"),
]
