"""The client account's lifecycle: close, archive, reopen, anonymize, merge and delete."""
