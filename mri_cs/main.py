"""MRI compressed sensing: train a reconstruction network on subsampled k-space."""
import sys

if __name__ == "__main__":
    sys.exit("mri_cs: not built yet (see the open mri_cs issue); nothing was run.")
