"""The idle timeout of a signed-in session (GB/T 22239-2019 level 3: sessions end after a
period of inactivity; ``WITNESS_SESSION_MINUTES``, default 30), without a database write on
every request.

Django's ``SESSION_SAVE_EVERY_REQUEST`` would write the session row — a committed, fsynced
transaction — on every request, each Range request of a playing video included. Here a
session in use is saved (its expiry moved to now + the idle time) at most once a minute:
the idle timeout is kept to within ``TOUCH_EVERY`` seconds, and a request that changes the
session is saved at once, as always.
"""

from __future__ import annotations

import time

from django.contrib.sessions.middleware import SessionMiddleware

TOUCH_EVERY = 60  # seconds
TOUCHED = "_witness_touched"


class IdleSessionMiddleware(SessionMiddleware):
    def process_response(self, request, response):
        session = getattr(request, "session", None)
        if session is not None and session.accessed and not session.is_empty():
            now = int(time.time())
            touched = session.get(TOUCHED)
            if session.modified or not isinstance(touched, int) \
                    or not 0 <= now - touched < TOUCH_EVERY:
                session[TOUCHED] = now  # marks it modified: saved, expiry moved forward
        return super().process_response(request, response)
