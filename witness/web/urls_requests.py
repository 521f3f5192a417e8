"""URL patterns (filled by the issue 5 work)."""

urlpatterns: list = []
