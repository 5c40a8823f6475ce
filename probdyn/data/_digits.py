"""Rotating digits: one handwritten digit rotated through a full turn, a sequence per image (the
rotating-MNIST task of ODE2VAE and the shooting paper), from scikit-learn's bundled 8 x 8 digits
or from MNIST IDX files the user has."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import xarray as xr

# IDX type codes (http://yann.lecun.com/exdb/mnist/): code -> big-endian numpy dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")


def read_idx(path) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    Parameters
    ----------
    path : str or Path
        The file, e.g. ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz`` (gzip is
        detected from the content, not the name).

    Returns
    -------
    numpy.ndarray
        The array with the shape stored in the header (``(n, 28, 28)`` for MNIST images,
        ``(n,)`` for labels), in native byte order.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (header {raw[:4]!r}; expected two zero "
                         f"bytes, a type code in {sorted(_IDX_TYPES)} and the rank)")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(s) for s in np.frombuffer(raw[4:head], dtype=">u4"))
    size = math.prod(shape) * dtype.itemsize
    if len(raw) - head != size:
        raise ValueError(f"{path}: the header says shape {shape} ({size} bytes of data), the "
                         f"file has {len(raw) - head}")
    return np.frombuffer(raw[head:], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"source: no {stem} or {stem}.gz in {folder} (the MNIST training "
                            f"files {_MNIST_FILES}, plain or .gz)")


def _source_images(source, digit: int):
    """Images of ``digit`` scaled to [0, 1], shape (n, h, w), and a description."""
    if isinstance(source, str) and source == "sklearn":
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ImportError("rotating_digits(source='sklearn') needs scikit-learn: pip install "
                              "'probdyn[digits]' (or scikit-learn), or pass source=<folder with "
                              "the MNIST IDX files>") from None
        bunch = load_digits()
        images = bunch.images[bunch.target == digit] / 16.0  # 17 grey levels, 0..16
        return images, "scikit-learn load_digits (UCI optical digits, 8 x 8)"
    folder = Path(source)
    if not folder.is_dir():
        raise ValueError(f"source must be 'sklearn' or a folder with the MNIST IDX files, got "
                         f"{source!r}")
    images = read_idx(_find_idx(folder, _MNIST_FILES[0]))
    labels = read_idx(_find_idx(folder, _MNIST_FILES[1]))
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(f"source: images of shape {images.shape} and labels of shape "
                         f"{labels.shape} do not match (expected (n, h, w) and (n,))")
    return images[labels == digit] / 255.0, f"MNIST IDX files in {folder}"


def rotating_digits(digit: int = 3, *, num_angles: int = 16, source="sklearn",
                    size: int | None = None, max_samples: int | None = None) -> xr.Dataset:
    """Sequences of one digit rotated through a full turn: the rotating-MNIST task.

    Every image of ``digit`` becomes a sequence of ``num_angles`` frames rotated
    counter-clockwise by ``2 pi k / num_angles``, k = 0 .. num_angles - 1 (the first frame is
    the upright image; the full turn is not repeated). Rotation is bilinear about the image
    centre (``scipy.ndimage.rotate``), with zeros outside the image.

    Parameters
    ----------
    digit : int
        The class to keep, 0..9 (the paper's experiment uses 3).
    num_angles : int
        Frames per sequence, >= 2 (the paper: 16).
    source : "sklearn" or str or Path
        ``"sklearn"`` (default): scikit-learn's bundled 8 x 8 digits (no download; needs the
        ``digits`` extra), each padded by one blank pixel (MNIST digits also have a margin,
        so the corners survive the rotation) and upsampled to ``size``. Otherwise a folder
        holding MNIST's ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (plain or
        ``.gz``), read with :func:`read_idx`.
    size : int, optional
        Side of the output frames in pixels (bilinear resampling, before the rotation).
        Default 16 for ``"sklearn"``, the files' own size (28) for MNIST.
    max_samples : int, optional
        Keep the first ``max_samples`` images of the digit (all by default).

    Returns
    -------
    xarray.Dataset
        ``image`` (sample, time, y, x), grey levels in [0, 1]; coordinate ``time``: the
        rotation angle in radians (the sequence's time axis), ``sample``: the image's index
        among the source's images of that digit; provenance in ``attrs``.
    """
    from scipy import ndimage

    if isinstance(digit, bool) or int(digit) != digit or not 0 <= digit <= 9:
        raise ValueError(f"digit must be an integer in 0..9, got {digit!r}")
    if isinstance(num_angles, bool) or int(num_angles) != num_angles or num_angles < 2:
        raise ValueError(f"num_angles must be an integer >= 2, got {num_angles!r}")
    if size is not None and (isinstance(size, bool) or int(size) != size or size < 4):
        raise ValueError(f"size must be an integer >= 4 pixels, got {size!r}")
    if max_samples is not None and (isinstance(max_samples, bool) or int(max_samples) !=
                                    max_samples or max_samples < 1):
        raise ValueError(f"max_samples must be an integer >= 1, got {max_samples!r}")
    images, description = _source_images(source, int(digit))
    if len(images) == 0:
        raise ValueError(f"source has no image of digit {digit}")
    images = images[:max_samples].astype(np.float64)
    is_sklearn = isinstance(source, str) and source == "sklearn"
    if is_sklearn:
        images = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    size = int(size) if size is not None else (16 if is_sklearn else images.shape[-1])
    if images.shape[-1] != size or images.shape[-2] != size:
        zoom = (1, size / images.shape[-2], size / images.shape[-1])
        images = ndimage.zoom(images, zoom, order=1, grid_mode=True, mode="grid-constant")
    angles = 2 * np.pi * np.arange(int(num_angles)) / int(num_angles)
    frames = np.stack([ndimage.rotate(images, np.degrees(a), axes=(1, 2), reshape=False, order=1)
                       for a in angles], axis=1)
    frames = np.clip(frames, 0.0, 1.0).astype(np.float32)
    return xr.Dataset(
        {"image": (("sample", "time", "y", "x"), frames, {"units": "grey level in [0, 1]"})},
        coords={"sample": np.arange(len(frames)),
                "time": ("time", angles, {"units": "rad", "long_name": "rotation angle"})},
        attrs={"description": f"digit {int(digit)} rotated counter-clockwise through a full "
                              f"turn in {int(num_angles)} frames", "source": description,
               "digit": int(digit), "num_angles": int(num_angles), "size": size},
    )
