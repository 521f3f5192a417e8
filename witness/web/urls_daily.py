"""URL patterns: role home pages, global search, dashboards (issue 8 items 1, 6)."""

urlpatterns = []
