"""The mri_cs tests' single intra-op thread, for the lab's mri_cs tests too."""

from tests.mri_cs.conftest import single_thread  # noqa: F401 (an autouse fixture)
