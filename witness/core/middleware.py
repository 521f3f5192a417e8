"""Chinese first: the interface language is the user's explicit choice (the language
cookie set by the 中文/English switch), else LANGUAGE_CODE (zh-hans). The browser's
Accept-Language is ignored: an agency's shared or English-configured browsers must not
turn the interface English on their own."""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers


class ChineseFirstLocaleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.languages = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.languages else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


# No 'unsafe-inline' and no 'unsafe-eval' for scripts (issue 8 item 7): every script is a
# file under /static/, data reaches it through data-* attributes or json_script (JSON in a
# non-executable <script type="application/json">). Styles may be inline: htmx adds its
# indicator style and a few pages size an element with an attribute. Media and images
# may come from blob: URLs (the player, chart exports).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class ContentSecurityPolicyMiddleware:
    """Sets Content-Security-Policy on every response (pages, API, streams, static files:
    it sits first in MIDDLEWARE, outside WhiteNoise) unless a view set its own."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "WITNESS_CSP", CONTENT_SECURITY_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
