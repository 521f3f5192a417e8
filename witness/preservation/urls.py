"""URL patterns of witness.preservation, included under /preservation/ by witness/urls.py:
the web export after approval (issue 7 item 5; EVD-1, EVD-3) and the disc images of held
records (RET-2, A16)."""

from django.urls import path

from witness.preservation import views, web_discs

urlpatterns = [
    path("packages/<int:pk>/", views.export_package, name="export_package"),
    path("packages/<int:pk>/make/", views.export_package_make, name="export_package_make"),
    path("packages/<int:pk>/download/", views.export_package_download,
         name="export_package_download"),
    path("discs/", web_discs.disc_sets, name="preservation_discs"),
    path("discs/<int:pk>/", web_discs.disc_set, name="preservation_disc"),
    path("discs/<int:pk>/files/<str:name>", web_discs.disc_file, name="preservation_disc_file"),
]
