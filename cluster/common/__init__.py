"""Plumbing that knows nothing about clusters: logging and rate limits."""
