"""URL patterns of witness.preservation, included under /preservation/ by witness/urls.py."""

urlpatterns = []
