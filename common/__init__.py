"""What the assignments' ``main.py`` files and report notebooks share at run time: the command line, run folders,
checkpoints, data checks, metrics, precision, noise and pretrained weights. The lab tools live in ``lab/``."""
