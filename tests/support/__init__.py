"""Helpers shared by test modules, grouped by topic (built on tests/helpers.py and tests/factories.py)."""
