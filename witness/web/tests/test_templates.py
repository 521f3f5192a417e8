"""No CDN and no external URL anywhere in the templates; htmx is vendored."""

import re
from pathlib import Path

from django.conf import settings

WEB = Path(settings.BASE_DIR) / "web"
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def test_no_template_loads_or_links_anything_from_another_host():
    templates = sorted((WEB / "templates").rglob("*.html"))
    assert len(templates) > 15
    offenders = [str(p) for p in templates if EXTERNAL.search(p.read_text(encoding="utf-8"))
                 or "http://" in p.read_text(encoding="utf-8")
                 or "https://" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_htmx_is_vendored_with_its_licence_and_loaded_from_static():
    htmx = WEB / "static" / "vendor" / "htmx"
    assert (htmx / "htmx.min.js").stat().st_size > 40_000
    assert "Zero-Clause BSD" in (htmx / "LICENSE").read_text(encoding="utf-8")
    base = (WEB / "templates" / "web" / "base.html").read_text(encoding="utf-8")
    assert "{% static 'vendor/htmx/htmx.min.js' %}" in base


def test_stylesheet_uses_the_local_cjk_font_stack_and_no_web_fonts():
    css = (WEB / "static" / "witness" / "witness.css").read_text(encoding="utf-8")
    assert '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif' in css
    assert "@font-face" not in css and "@import" not in css and "url(" not in css
    assert "@media (max-width: 640px)" in css


def test_our_htmx_settings_load_after_htmx_and_swap_refusals():
    base = (WEB / "templates" / "web" / "base.html").read_text(encoding="utf-8")
    htmx = base.index("{% static 'vendor/htmx/htmx.min.js' %}")
    assert base.index("{% static 'witness/htmx-config.js' %}") > htmx
    config = (WEB / "static" / "witness" / "htmx-config.js").read_text(encoding="utf-8")
    assert 'code: "400|409|422", swap: true' in config
