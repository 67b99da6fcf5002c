"""The client list: search, filters, sort and keyset pages (/admin/clients)."""
