"""Differential operators on uniform grids: finite differences and FFT (pseudo-spectral).

Conventions shared by every function here:

- ``field`` is a real tensor; its last ``ndim`` dims are the grid (``(x,)`` in 1-D, ``(y, x)``
  in 2-D, ``x`` the last dim); all leading dims are batch dims.
- ``dx`` is the grid spacing in physical length units: a positive number, or in 2-D a pair
  ``(dy, dx)``. Point ``j`` of an axis sits at ``x_j = j * dx`` on a periodic axis (domain
  length ``n * dx``) and at the cell centre ``x_j = (j + 1/2) * dx`` on a Neumann axis (domain
  ``[0, n * dx]``, walls on the cell faces).
- Vector fields carry their components in dim ``-3`` ordered ``(x, y)``: a gradient in 2-D has
  shape ``(..., 2, ny, nx)`` with ``[..., 0, :, :] = d/dx`` and ``[..., 1, :, :] = d/dy``.
- ``boundary="periodic"`` wraps around; ``boundary="neumann"`` (zero normal derivative) fills
  ghost cells by half-sample symmetric reflection about the wall (``u[-1] = u[0]``,
  ``u[-2] = u[1]``), which keeps the finite-difference Laplacian a symmetric matrix (so the
  discrete wave energy is conserved) and keeps the stencils' full order for fields whose
  even reflection is smooth (e.g. cosine modes).
"""

from __future__ import annotations

import math

import torch

_BOUNDARIES = ("periodic", "neumann")
_STENCILS = ("five_point", "nine_point", "fourth_order")


# ----------------------------------------------------------------------------------- checks
def _check_field(field, ndim: int, min_size: int = 1) -> None:
    if not isinstance(field, torch.Tensor):
        raise ValueError(f"field must be a torch.Tensor, got {type(field).__name__}")
    if ndim not in (1, 2):
        raise ValueError(f"ndim must be 1 or 2, got {ndim}")
    if not field.is_floating_point():
        raise ValueError(f"field must be a real floating-point tensor, got dtype {field.dtype}")
    if field.dim() < ndim:
        raise ValueError(f"field must have at least {ndim} dims (the grid), got shape "
                         f"{tuple(field.shape)}")
    small = [n for n in field.shape[field.dim() - ndim:] if n < min_size]
    if small:
        raise ValueError(f"field's grid dims {tuple(field.shape[-ndim:])} must each have at "
                         f"least {min_size} points for this stencil")


def _spacings(dx, ndim: int) -> tuple[float, ...]:
    """``dx`` as one spacing per grid dim, ordered like the dims (``(dy, dx)`` in 2-D)."""
    values = tuple(dx) if isinstance(dx, (tuple, list)) else (dx,) * ndim
    if len(values) != ndim:
        raise ValueError(f"dx must be a number or {ndim} numbers, got {dx!r}")
    out = []
    for v in values:
        v = float(v)
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"dx must be positive and finite, got {dx!r}")
        out.append(v)
    return tuple(out)


def _check_boundary(boundary: str) -> None:
    if boundary not in _BOUNDARIES:
        raise ValueError(f"boundary must be one of {_BOUNDARIES}, got {boundary!r}")


# ------------------------------------------------------------------------ finite differences
def _pad(field: torch.Tensor, width: int, dim: int, boundary: str) -> torch.Tensor:
    n = field.shape[dim]
    if boundary == "periodic":
        left, right = field.narrow(dim, n - width, width), field.narrow(dim, 0, width)
    else:
        left = field.narrow(dim, 0, width).flip(dim)
        right = field.narrow(dim, n - width, width).flip(dim)
    return torch.cat([left, field, right], dim)


def _shifted(padded: torch.Tensor, width: int, dim: int, n: int):
    """The ``2 * width + 1`` shifted views ``u[j - width], ..., u[j + width]`` of a padded axis."""
    return [padded.narrow(dim, s, n) for s in range(2 * width + 1)]


def _second_difference(field, h, dim, boundary, order):
    n = field.shape[dim]
    if order == 2:
        m, c, p = _shifted(_pad(field, 1, dim, boundary), 1, dim, n)
        return (m - 2 * c + p) / h**2
    m2, m1, c, p1, p2 = _shifted(_pad(field, 2, dim, boundary), 2, dim, n)
    return (-(m2 + p2) + 16 * (m1 + p1) - 30 * c) / (12 * h**2)


def _central_difference(field, h, dim, boundary):
    n = field.shape[dim]
    m, _, p = _shifted(_pad(field, 1, dim, boundary), 1, dim, n)
    return (p - m) / (2 * h)


def laplacian(field: torch.Tensor, dx=1.0, *, ndim: int = 2, boundary: str = "periodic",
              stencil: str = "five_point") -> torch.Tensor:
    """Finite-difference Laplacian on a uniform grid.

    Parameters
    ----------
    field : torch.Tensor, shape (..., nx) or (..., ny, nx)
        Real field on the grid (last ``ndim`` dims).
    dx : float or (float, float)
        Grid spacing (length units); in 2-D a pair ``(dy, dx)`` is allowed.
    ndim : {1, 2}
        Number of trailing grid dims.
    boundary : {"periodic", "neumann"}
        Periodic wrap, or zero normal derivative by half-sample symmetric ghost cells.
    stencil : {"five_point", "nine_point", "fourth_order"}
        ``"five_point"``: the second-order 3-point difference per axis (the 5-point stencil in
        2-D). ``"nine_point"``: the second-order, more isotropic 3x3 stencil (centre -3,
        edges 1/2, corners 1/4, over ``dx**2``; 2-D with ``dy == dx`` only).
        ``"fourth_order"``: the fourth-order 5-point difference per axis
        (``(-1, 16, -30, 16, -1) / 12``).

    Returns
    -------
    torch.Tensor, same shape as ``field``
        The Laplacian in units of ``field / length**2``.
    """
    if stencil not in _STENCILS:
        raise ValueError(f"stencil must be one of {_STENCILS}, got {stencil!r}")
    _check_boundary(boundary)
    _check_field(field, ndim, min_size=4 if stencil == "fourth_order" else 3)
    hs = _spacings(dx, ndim)
    dims = tuple(range(field.dim() - ndim, field.dim()))
    if stencil == "nine_point":
        if ndim != 2 or hs[0] != hs[1]:
            raise ValueError("stencil='nine_point' needs a 2-D grid with dy == dx, got "
                             f"ndim={ndim}, dx={dx!r}")
        ny, nx = field.shape[-2:]
        padded = _pad(_pad(field, 1, dims[0], boundary), 1, dims[1], boundary)
        rows = _shifted(padded, 1, dims[0], ny)
        (nw, n, ne), (w, c, e), (sw, s, se) = (_shifted(r, 1, dims[1], nx) for r in rows)
        return (0.5 * (n + s + e + w) + 0.25 * (nw + ne + sw + se) - 3 * c) / hs[0] ** 2
    order = 4 if stencil == "fourth_order" else 2
    return sum(_second_difference(field, h, d, boundary, order) for h, d in zip(hs, dims))


def gradient(field: torch.Tensor, dx=1.0, *, ndim: int = 2,
             boundary: str = "periodic") -> torch.Tensor:
    """Gradient by second-order central differences.

    Parameters
    ----------
    field : torch.Tensor, shape (..., nx) or (..., ny, nx)
    dx, ndim, boundary
        As in :func:`laplacian`.

    Returns
    -------
    torch.Tensor
        Shape ``(..., nx)`` in 1-D (the derivative); ``(..., 2, ny, nx)`` in 2-D with the
        components ``(d/dx, d/dy)`` in dim ``-3``. Units ``field / length``.
    """
    _check_boundary(boundary)
    _check_field(field, ndim, min_size=3)
    hs = _spacings(dx, ndim)
    if ndim == 1:
        return _central_difference(field, hs[0], -1, boundary)
    ddx = _central_difference(field, hs[1], -1, boundary)
    ddy = _central_difference(field, hs[0], -2, boundary)
    return torch.stack([ddx, ddy], dim=-3)


def divergence(vector: torch.Tensor, dx=1.0, *, ndim: int = 2,
               boundary: str = "periodic") -> torch.Tensor:
    """Divergence by second-order central differences.

    Parameters
    ----------
    vector : torch.Tensor
        Shape ``(..., nx)`` in 1-D; ``(..., 2, ny, nx)`` in 2-D with components ``(v_x, v_y)``
        in dim ``-3``. With ``boundary="neumann"`` each component gets zero normal derivative.
    dx, ndim, boundary
        As in :func:`laplacian`.

    Returns
    -------
    torch.Tensor, shape (..., nx) or (..., ny, nx)
        ``d v_x / dx + d v_y / dy`` in units ``vector / length``.
    """
    _check_boundary(boundary)
    if ndim == 1:
        return gradient(vector, dx, ndim=1, boundary=boundary)
    _check_vector(vector, "vector")
    _check_field(vector, 2, min_size=3)
    hs = _spacings(dx, 2)
    return (_central_difference(vector[..., 0, :, :], hs[1], -1, boundary)
            + _central_difference(vector[..., 1, :, :], hs[0], -2, boundary))


def _check_vector(vector, name: str) -> None:
    if not isinstance(vector, torch.Tensor) or vector.dim() < 3 or vector.shape[-3] != 2:
        shape = tuple(vector.shape) if isinstance(vector, torch.Tensor) else type(vector)
        raise ValueError(f"{name} must have shape (..., 2, ny, nx) with components (x, y) in "
                         f"dim -3, got {shape}")


# --------------------------------------------------------------------------------- spectral
def wavenumbers(shape, dx=1.0, *, dtype=torch.float64, device=None):
    """Angular wavenumbers of the real FFT grid used by the spectral operators.

    Parameters
    ----------
    shape : (int,) or (int, int)
        Grid shape ``(nx,)`` or ``(ny, nx)``.
    dx : float or (float, float)
        Grid spacing(s), as in :func:`laplacian`.

    Returns
    -------
    tuple of torch.Tensor
        1-D: ``(kx,)`` of shape ``(nx // 2 + 1,)``. 2-D: ``(kx, ky)`` broadcastable to
        ``(ny, nx // 2 + 1)`` (the layout of ``torch.fft.rfft2``). Units ``1 / length``
        (``2 pi / wavelength``).
    """
    shape = tuple(int(n) for n in shape)
    hs = _spacings(dx, len(shape))
    kx = 2 * math.pi * torch.fft.rfftfreq(shape[-1], d=hs[-1], dtype=dtype, device=device)
    if len(shape) == 1:
        return (kx,)
    ky = 2 * math.pi * torch.fft.fftfreq(shape[0], d=hs[0], dtype=dtype, device=device)
    return kx[None, :], ky[:, None]


def _nyquist_free(k: torch.Tensor, n: int) -> torch.Tensor:
    """``i k`` is not a real operator on the Nyquist mode of an even grid: drop that mode."""
    if n % 2 == 0:
        k = torch.where(k.abs() == k.abs().max(), torch.zeros_like(k), k)
    return k


def _spectral_setup(field, dx, ndim):
    _check_field(field, ndim, min_size=2)
    shape = field.shape[-ndim:]
    ks = wavenumbers(shape, dx, dtype=field.dtype, device=field.device)
    dims = tuple(range(-ndim, 0))
    return shape, ks, dims, torch.fft.rfftn(field, dim=dims)


def spectral_laplacian(field: torch.Tensor, dx=1.0, *, ndim: int = 2) -> torch.Tensor:
    """Laplacian by FFT on a periodic grid (exact for trigonometric polynomials on the grid).

    Parameters
    ----------
    field : torch.Tensor, shape (..., nx) or (..., ny, nx)
        Real periodic field; domain length ``n * dx`` per axis.
    dx, ndim
        As in :func:`laplacian`.

    Returns
    -------
    torch.Tensor, same shape as ``field``
    """
    shape, ks, dims, fh = _spectral_setup(field, dx, ndim)
    k2 = sum(k**2 for k in ks)
    return torch.fft.irfftn(-k2 * fh, s=shape, dim=dims)


def spectral_gradient(field: torch.Tensor, dx=1.0, *, ndim: int = 2) -> torch.Tensor:
    """Gradient by FFT on a periodic grid (the Nyquist mode of an even grid is dropped).

    Returns
    -------
    torch.Tensor
        ``(..., nx)`` in 1-D; ``(..., 2, ny, nx)`` with components ``(d/dx, d/dy)`` in 2-D.
    """
    shape, ks, dims, fh = _spectral_setup(field, dx, ndim)
    if ndim == 1:
        return torch.fft.irfftn(1j * _nyquist_free(ks[0], shape[-1]) * fh, s=shape, dim=dims)
    kx, ky = _nyquist_free(ks[0], shape[1]), _nyquist_free(ks[1], shape[0])
    return torch.stack([torch.fft.irfftn(1j * kx * fh, s=shape, dim=dims),
                        torch.fft.irfftn(1j * ky * fh, s=shape, dim=dims)], dim=-3)


def spectral_divergence(vector: torch.Tensor, dx=1.0) -> torch.Tensor:
    """Divergence by FFT of a periodic 2-D vector field ``(..., 2, ny, nx)`` (components x, y).

    Returns
    -------
    torch.Tensor, shape (..., ny, nx)
    """
    _check_vector(vector, "vector")
    shape, ks, dims, fh = _spectral_setup(vector, dx, 2)
    kx, ky = _nyquist_free(ks[0], shape[1]), _nyquist_free(ks[1], shape[0])
    return torch.fft.irfftn(1j * kx * fh[..., 0, :, :] + 1j * ky * fh[..., 1, :, :], s=shape,
                            dim=dims)


def inverse_laplacian(field: torch.Tensor, dx=1.0, *, ndim: int = 2) -> torch.Tensor:
    """Solve the periodic Poisson problem ``Lap u = f`` by FFT.

    A periodic Poisson problem is solvable only for zero-mean ``f``; the mean of ``field`` is
    therefore removed, and the returned ``u`` is the zero-mean solution of
    ``Lap u = f - mean(f)``.

    Parameters
    ----------
    field : torch.Tensor, shape (..., nx) or (..., ny, nx)
        Right-hand side ``f``.
    dx, ndim
        As in :func:`laplacian`.

    Returns
    -------
    torch.Tensor, same shape as ``field``
        ``u`` in units ``field * length**2``.
    """
    shape, ks, dims, fh = _spectral_setup(field, dx, ndim)
    k2 = sum(k**2 for k in ks)
    inv = torch.where(k2 > 0, -1.0 / torch.where(k2 > 0, k2, torch.ones_like(k2)),
                      torch.zeros_like(k2))
    return torch.fft.irfftn(inv * fh, s=shape, dim=dims)
