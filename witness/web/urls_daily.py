"""URL patterns: role home pages, global search, dashboards (issue 8 items 1, 6)."""

from django.urls import path

from witness.web.views import search

urlpatterns = [
    path("search/", search.search, name="search"),
]
