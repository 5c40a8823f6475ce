import os
from pathlib import Path

import pytest
import torch

# Real datasets live in ../shared/data next to the clone (see README); the Makefile exports
# PROBDYN_DATA_DIR, this keeps a bare `pytest` working too.
_shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "PROBDYN_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["PROBDYN_DATA_DIR"] = str(_shared)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield
