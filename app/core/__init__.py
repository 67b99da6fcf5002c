"""Pieces shared by every domain: money, signing, rendering, queue."""
