"""One client on one page: the header and its tabs as htmx partials (/admin/clients/<id>)."""
