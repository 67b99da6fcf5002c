"""Proformas, tax invoices and the billing run."""
