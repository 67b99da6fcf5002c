"""Hosting services, the catalog and the cart."""
