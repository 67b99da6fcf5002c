"""The staff admin."""
