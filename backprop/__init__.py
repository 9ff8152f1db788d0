"""backprop package."""
