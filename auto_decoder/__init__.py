"""auto_decoder package."""
