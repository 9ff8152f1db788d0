"""autoencoders package."""
