"""The wallet ledger, payments and statements."""
