"""Cursor pages for every API list (no COUNT(*) over a table)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class Cursor(CursorPagination):
    """Keyset pages: ``?cursor=`` from the previous page's ``next``; no COUNT(*). The view's
    ``ordering`` ends with a unique field."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_ordering(self, request, queryset, view):
        return view.ordering

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            # a cursor whose position does not fit the field
            raise exceptions.NotFound(self.invalid_cursor_message) from None
