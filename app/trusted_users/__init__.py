"""Extra people who may use a client account."""
