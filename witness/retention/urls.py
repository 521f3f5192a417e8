"""URL patterns of witness.retention, included under /retention/ by witness/urls.py."""

urlpatterns = []
