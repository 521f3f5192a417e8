"""URL patterns: activity timeline, player markers, printable forms (issue 8 items 2, 3, 5)."""

urlpatterns = []
