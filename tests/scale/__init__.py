"""Several servers and schedulers against one PostgreSQL and one Redis."""
