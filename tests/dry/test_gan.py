"""A11: the converged discriminator's loss is the BCE of D = 1/2 on real and fake."""

import math

import torch
import torch.nn.functional as F


def test_written_values_match_bce(answers, close_as_written):
    d = torch.full((64,), 0.5)
    real = F.binary_cross_entropy(d, torch.ones(64))  # -log D(x)
    fake = F.binary_cross_entropy(d, torch.zeros(64))  # -log(1 - D(G(z)))
    both = F.binary_cross_entropy(torch.cat([d, d]), torch.cat([torch.ones(64), torch.zeros(64)]))
    rows = answers.rows("gan_table")
    close_as_written(
        [
            rows["-log D(x)"],
            rows["-log(1 - D(G(z)))"],
            rows["sum of the two terms (log 4)"],
            rows["mean of the two terms (log 2)"],
        ],
        [[float(real)], [float(fake)], [float(real + fake)], [float(both)]],
    )
    close_as_written([answers.block("gan_sum")], [math.log(4)])
