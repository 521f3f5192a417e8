"""Top floor: server-rendered pages (Django templates + HTMX). No business rules here."""
