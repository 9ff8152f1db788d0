"""mri_cs package."""
