"""Proformas, tax invoices, credit notes and their numbering and tax."""
