"""dry package."""
