"""The web UI: server-rendered pages (Jinja2 + htmx + PatternFly) in the same ASGI app as
``/v2`` and ``/api/v1``. See docs/ui.md."""
