"""Outgoing messages: the outbox, email rendering and delivery jobs."""
