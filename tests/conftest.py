import os
from pathlib import Path

import pytest
import torch

# Real datasets live in ../shared/data next to the clone (see README); the Makefile exports
# PROBDYN_DATA_DIR, this keeps a bare `pytest` working too.
_shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "PROBDYN_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["PROBDYN_DATA_DIR"] = str(_shared)


# The suite is many small tensor ops (Kalman steps on tiny matrices, small grids): one thread is
# as fast as two on an idle machine and avoids OpenMP oversubscription, which made tiny batched
# LAPACK calls ~1000x slower on a loaded 2-core machine.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
