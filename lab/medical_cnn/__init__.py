"""The lab's medical_cnn tools: README result blocks and studies that read ``results/medical_cnn``."""
