"""The lab's backprop tools: README result blocks and studies that read ``results/backprop``."""
