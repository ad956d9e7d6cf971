"""The web UI's pages, one module per area: each exports ``routes(web) -> list[WebRoute]``
and renders templates from ``templates/<area>/`` (see docs/ui.md, "Adding a page")."""
