"""Set-up for the package tests: torch runs on one intra-op thread.

On a loaded 2-core machine torch's thread pool made small float64 runs hundreds of times
slower; results do not depend on it (float64, same kernels). ``proofs/`` never imports
torch, so this lives here rather than in the root conftest.
"""

import torch

torch.set_num_threads(1)
