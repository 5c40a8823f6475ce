"""Stacking of per-component system blocks into one state space (block-diagonal)."""

import torch


def _time_len(blocks) -> int:
    lengths = {b.shape[-3] for b in blocks}
    lengths.discard(1)
    if len(lengths) > 1:
        raise ValueError(f"component blocks disagree on the number of time steps: {lengths}")
    return lengths.pop() if lengths else 1


def block_diag(blocks) -> torch.Tensor:
    """Block-diagonal stack of ``(..., T or 1, r_k, c_k)`` blocks -> ``(..., T', R, C)``.

    Batch dims broadcast; ``T' = T`` if any block is time-varying, else 1.
    """
    T = _time_len(blocks)
    batch = torch.broadcast_shapes(*(b.shape[:-3] for b in blocks))
    rows, cols = sum(b.shape[-2] for b in blocks), sum(b.shape[-1] for b in blocks)
    out = torch.zeros(batch + (T, rows, cols), dtype=blocks[0].dtype, device=blocks[0].device)
    r = c = 0
    for b in blocks:
        out[..., r : r + b.shape[-2], c : c + b.shape[-1]] = b
        r, c = r + b.shape[-2], c + b.shape[-1]
    return out


def hstack(blocks) -> torch.Tensor:
    """Concatenate ``(..., T or 1, N, d_k)`` observation blocks along the state axis."""
    T = _time_len(blocks)
    batch = torch.broadcast_shapes(*(b.shape[:-3] for b in blocks))
    return torch.cat([b.expand(batch + (T,) + b.shape[-2:]) for b in blocks], dim=-1)


def block_diag_static(blocks) -> torch.Tensor:
    """Block-diagonal stack of ``(..., r_k, c_k)`` matrices (no time axis)."""
    return block_diag([b.unsqueeze(-3) for b in blocks]).squeeze(-3)


def cat_vectors(vectors) -> torch.Tensor:
    """Concatenate ``(..., d_k)`` vectors with broadcast batch dims."""
    batch = torch.broadcast_shapes(*(v.shape[:-1] for v in vectors))
    return torch.cat([v.expand(batch + v.shape[-1:]) for v in vectors], dim=-1)
