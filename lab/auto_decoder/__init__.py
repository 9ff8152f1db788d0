"""The lab's auto_decoder tools: README result blocks and studies that read ``results/auto_decoder``."""
