"""Static files with a content version in their address (issue 8 item 7).

``{% static 'x.js' %}`` gives ``/static/x.js?v=<first 12 hex of its SHA-256>``: WhiteNoise
serves every static file with a year's ``max-age`` (settings.WHITENOISE_MAX_AGE), and a
changed file gets a new address, so browsers never keep a stale copy. Unlike Django's
manifest storage this needs no ``collectstatic`` before the first request (WhiteNoise
serves from the finders); the digest is computed once per file and process, reading the
file in chunks."""

from __future__ import annotations

import hashlib

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import StaticFilesStorage

CHUNK = 1 << 16


class VersionedStaticFilesStorage(StaticFilesStorage):
    _versions: dict[str, str] = {}

    def version(self, name: str) -> str:
        if name not in self._versions:
            path = finders.find(name)
            if not path:
                return ""
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
            self._versions[name] = digest.hexdigest()[:12]
        return self._versions[name]

    def url(self, name):
        url = super().url(name)
        version = self.version(name) if name else ""
        return f"{url}?v={version}" if version and "?" not in url else url
