"""Staff casework on a client: internal notes, files shared with (or kept from) the client,
queued invoice items, service groups and invoices made by hand. Every change is audited
(app.audit sits below this package, which is why these services live here and not in
app.clients)."""
