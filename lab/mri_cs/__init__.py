"""The lab side of mri_cs: the realistic benchmark, its tables and the BART cross-check."""
