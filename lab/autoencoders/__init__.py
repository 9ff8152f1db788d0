"""The lab's autoencoders tools: README result blocks and studies that read ``results/autoencoders``."""
