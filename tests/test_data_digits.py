"""Rotating digits: the IDX reader (on files written here), the rotation (against np.rot90) and
the scikit-learn source."""

import gzip
import struct
import sys

import numpy as np
import pytest

from probdyn.data import concentric_annuli, read_idx, rotating_digits


def _write_idx(path, array, code):
    """An IDX file written by hand: 0, 0, type code, rank, big-endian dims, big-endian data."""
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    head = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                      *array.shape)
    raw = head + np.asarray(array, dtype=dtype).tobytes()
    if str(path).endswith(".gz"):
        raw = gzip.compress(raw)
    path.write_bytes(raw)


@pytest.mark.parametrize("name,code,dtype", [
    ("a.idx", 0x08, np.uint8), ("b.idx.gz", 0x08, np.uint8), ("c.idx", 0x0C, np.int32),
    ("d.idx", 0x0D, np.float32)])
def test_read_idx_returns_what_was_written(tmp_path, name, code, dtype):
    rng = np.random.default_rng(0)
    array = (rng.uniform(-100, 100, size=(3, 5, 4)) if dtype != np.uint8 else
             rng.integers(0, 256, size=(3, 5, 4))).astype(dtype)
    _write_idx(tmp_path / name, array, code)
    out = read_idx(tmp_path / name)
    assert out.shape == (3, 5, 4) and out.dtype == dtype
    np.testing.assert_array_equal(out, array)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "x").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "x")
    _write_idx(tmp_path / "y", np.zeros((2, 3), np.uint8), 0x08)
    (tmp_path / "y").write_bytes((tmp_path / "y").read_bytes()[:-1])
    with pytest.raises(ValueError, match="header says shape"):
        read_idx(tmp_path / "y")


def _mnist_folder(tmp_path, gz: bool):
    rng = np.random.default_rng(1)
    images = np.zeros((6, 28, 28), np.uint8)
    images[:, 4:24, 4:24] = rng.integers(0, 256, size=(6, 20, 20))  # MNIST's 4-pixel margin
    labels = np.array([3, 1, 3, 3, 7, 0], np.uint8)
    suffix = ".gz" if gz else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, 0x08)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, 0x08)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_rotating_digits_from_idx_files(tmp_path, gz):
    images, labels = _mnist_folder(tmp_path, gz)
    ds = rotating_digits(3, source=tmp_path)
    frames = ds["image"].values
    assert ds["image"].dims == ("sample", "time", "y", "x") and frames.shape == (3, 16, 28, 28)
    np.testing.assert_allclose(ds["time"].values, 2 * np.pi * np.arange(16) / 16)
    # frame 0 is the image itself, scaled to [0, 1]
    np.testing.assert_allclose(frames[:, 0], images[labels == 3] / 255.0, atol=1e-7)
    # oracle: a quarter turn and a half turn are exact pixel permutations
    np.testing.assert_allclose(frames[:, 4], np.rot90(frames[:, 0], axes=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(frames[:, 8], frames[:, 0, ::-1, ::-1], atol=1e-6)
    assert rotating_digits(3, source=tmp_path, max_samples=2, size=14)["image"].shape == (
        2, 16, 14, 14)


def test_rotating_digits_rejects_bad_arguments(tmp_path):
    _mnist_folder(tmp_path, False)
    with pytest.raises(ValueError, match="digit"):
        rotating_digits(10, source=tmp_path)
    with pytest.raises(ValueError, match="num_angles"):
        rotating_digits(3, num_angles=1, source=tmp_path)
    with pytest.raises(ValueError, match="no image of digit 5"):
        rotating_digits(5, source=tmp_path)
    with pytest.raises(ValueError, match="source"):
        rotating_digits(3, source=tmp_path / "missing")
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        rotating_digits(3, source=tmp_path)


def test_rotating_digits_from_sklearn():
    pytest.importorskip("sklearn")
    ds = rotating_digits(3)
    frames = ds["image"].values
    assert frames.shape == (183, 16, 16, 16)  # the UCI set has 183 threes
    assert frames.min() >= 0 and frames.max() <= 1
    np.testing.assert_allclose(frames[:, 4], np.rot90(frames[:, 0], axes=(1, 2)), atol=1e-6)
    # bilinear rotation keeps the ink (the one-pixel margin keeps the corners in the frame)
    ink = frames.sum((-1, -2))
    assert np.abs(ink / ink[:, :1] - 1).max() < 0.1


def test_rotating_digits_without_sklearn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails
    with pytest.raises(ImportError, match=r"probdyn\[digits\]"):
        rotating_digits(3)


def test_concentric_annuli_radii_and_classes():
    ds = concentric_annuli(2000, 3000, seed=0)
    r = np.linalg.norm(ds["x"].values, axis=1)
    label = ds["label"].values
    assert (label == 0).sum() == 2000 and (label == 1).sum() == 3000
    assert r[label == 0].max() <= 0.5 and r[label == 1].min() >= 1.0 and r.max() <= 1.5
    # oracle: area-uniform on the disc, P(r < 0.25) = 1/4 (4 binomial sd: 0.039)
    assert abs((r[label == 0] < 0.25).mean() - 0.25) < 0.039
    # and uniform direction: the mean point is near the origin
    assert np.abs(ds["x"].values.mean(0)).max() < 0.05
    with pytest.raises(ValueError, match="must end before"):
        concentric_annuli(10, 10, inner_range=(0, 1.2))
    with pytest.raises(ValueError, match="num_inner"):
        concentric_annuli(0, 10)
