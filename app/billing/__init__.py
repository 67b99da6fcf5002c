"""The billing orchestrator: the daily run calls the invoices, hosting and notify domains in order."""
