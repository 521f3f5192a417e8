"""URL patterns of the annual review and inspections (issue 6 item 3; SUP-1, SUP-3),
included under /review/ by witness/web/urls.py."""

from django.urls import path

from witness.review import views

urlpatterns = [
    path("", views.review_list, name="review_list"),
    path("new/", views.review_new, name="review_new"),
    path("<int:pk>/", views.review_detail, name="review_detail"),
    path("<int:pk>/sample/", views.review_sample, name="review_sample"),
    path("<int:pk>/approve/", views.review_approve, name="review_approve"),
    path("<int:pk>/close/", views.review_close, name="review_close"),
    path("<int:pk>/report.csv", views.review_report_csv, name="review_report_csv"),
    path("<int:pk>/report.pdf", views.review_report_pdf, name="review_report_pdf"),
    path("items/<int:pk>/score/", views.review_score, name="review_score"),
]
