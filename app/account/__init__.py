"""The customer's account: sign-up, login, dashboard."""
