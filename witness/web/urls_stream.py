"""URL patterns of the player, the stream, downloads and disclosure links (issue 5 items 2
and 5). The /d/ pages need no login: the link's token is the credential
(witness.web.access.OPEN)."""

from django.urls import path

from witness.web.views import disclosure, stream

urlpatterns = [
    path("recordings/<int:pk>/play/", stream.recording_play, name="recording_play"),
    path("recordings/<int:pk>/stream/", stream.recording_stream, name="recording_stream"),
    path("recordings/<int:pk>/download/", stream.recording_download,
         name="recording_download"),
    path("d/<str:token>/", disclosure.disclosure_view, name="disclosure_view"),
    path("d/<str:token>/stream/<int:pk>/", disclosure.disclosure_stream,
         name="disclosure_stream"),
    path("requests/<int:pk>/links/new/", disclosure.disclosure_link_issue,
         name="disclosure_link_issue"),
    path("links/<int:pk>/revoke/", disclosure.disclosure_link_revoke,
         name="disclosure_link_revoke"),
]
