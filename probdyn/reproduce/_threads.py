"""Run a block with one torch thread (restored afterwards)."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def single_thread():
    """``torch.set_num_threads(1)`` for the block, then the previous count again.

    The reproductions train small networks and batched small linear algebra, for which one
    thread is several times faster than two on a shared machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
