"""Associative (parallel-in-time) scan over tuples of tensors whose time axis is dim 0."""

from collections.abc import Callable

import torch

Elements = tuple[torch.Tensor, ...]


def _interleave(even: Elements, odd: Elements, n: int) -> Elements:
    """Merge ``even`` (indices 0, 2, 4, ...) and ``odd`` (1, 3, ...) into one length-``n`` axis."""
    out = []
    for e, o in zip(even, odd):
        k = o.shape[0]
        pairs = torch.stack([e[:k], o], dim=1).reshape((2 * k,) + o.shape[1:])
        out.append(torch.cat([pairs, e[k:]], dim=0) if n % 2 else pairs)
    return tuple(out)


def _prefix_scan(combine: Callable[[Elements, Elements], Elements], elems: Elements) -> Elements:
    n = elems[0].shape[0]
    if n < 2:
        return elems
    # combine neighbours (0,1), (2,3), ...; scan the half-length sequence; fill in the evens
    pairs = combine(tuple(e[0 : n - 1 : 2] for e in elems), tuple(e[1::2] for e in elems))
    odd = _prefix_scan(combine, pairs)
    m = (n - 1) // 2  # number of even indices >= 2
    even_tail = combine(tuple(o[:m] for o in odd), tuple(e[2::2] for e in elems))
    even = tuple(torch.cat([e[:1], t], dim=0) for e, t in zip(elems, even_tail))
    return _interleave(even, odd, n)


def associative_scan(
    combine: Callable[[Elements, Elements], Elements], elems: Elements, reverse: bool = False
) -> Elements:
    """Inclusive scan ``out[t] = e[0] * e[1] * ... * e[t]`` for an associative ``combine``.

    ``combine(a, b)`` receives two element tuples of equal leading length, ``a`` the earlier and
    ``b`` the later elements. With ``reverse=True`` computes suffixes ``e[t] * ... * e[T-1]``
    (``combine`` still receives the earlier element first). Depth O(log T), work O(T)
    (Blelloch 1990; used for Kalman filtering by Särkkä & García-Fernández 2021).

    Tensors in ``elems`` must share the leading (time) dimension; trailing dims may broadcast.
    """
    if not reverse:
        return _prefix_scan(combine, elems)
    flipped = tuple(e.flip(0) for e in elems)
    out = _prefix_scan(lambda a, b: combine(b, a), flipped)
    return tuple(o.flip(0) for o in out)
