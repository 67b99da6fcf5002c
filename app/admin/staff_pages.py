"""Staff accounts, roles and invitations; a staff member's own account (2FA, recovery codes)."""
