"""Shared metrics for every assignment (the only module the assignment folders share)."""
