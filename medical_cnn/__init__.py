"""medical_cnn package."""
