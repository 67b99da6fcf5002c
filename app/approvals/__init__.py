"""Four-eyes: a money change above a threshold waits for a second staff member."""
