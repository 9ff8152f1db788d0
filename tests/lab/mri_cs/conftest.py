"""One intra-op thread for this folder's tests: the tensors of --quick runs are tiny, and two
threads on a busy 2-core machine spend their time waiting for each other."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
