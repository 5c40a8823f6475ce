"""Relative MSE (spec S10) and hidden-state cosine similarity (S11) against loops by hand."""

import math

import numpy as np
import pytest
import torch

from probdyn.metrics import cosine_similarity, relative_mse


@pytest.fixture
def fields():
    rng = np.random.default_rng(7)
    return rng.normal(size=(2, 3, 2, 4, 5)), rng.normal(size=(2, 3, 2, 4, 5))


def test_relative_mse_by_hand(fields):
    pred, y = fields
    per_frame, per_pixel = [], []
    for b in range(2):
        for k in range(3):
            num = den = 0.0
            for i in range(4):
                for j in range(5):
                    e = sum((pred[b, k, c, i, j] - y[b, k, c, i, j]) ** 2 for c in range(2))
                    n = sum(y[b, k, c, i, j] ** 2 for c in range(2))
                    num, den = num + e, den + n
                    per_pixel.append(e / n)
            per_frame.append(num / den)
    assert relative_mse(pred, y) == pytest.approx(np.mean(per_frame), rel=1e-12)
    assert relative_mse(pred, y, normalisation="pixel") == pytest.approx(np.mean(per_pixel),
                                                                          rel=1e-12)
    # channel axis elsewhere, torch input
    moved = torch.tensor(np.moveaxis(pred, 2, -1)), torch.tensor(np.moveaxis(y, 2, -1))
    assert relative_mse(*moved, channel_axis=-1) == pytest.approx(np.mean(per_frame), rel=1e-12)


def test_relative_mse_properties(fields):
    pred, y = fields
    assert relative_mse(y, y) == 0
    assert relative_mse(np.zeros_like(y), y) == pytest.approx(1.0)
    for norm in ("frame", "pixel"):  # invariant to rescaling H(X) and Y jointly
        assert relative_mse(3.7 * pred, 3.7 * y, normalisation=norm) == pytest.approx(
            relative_mse(pred, y, normalisation=norm), rel=1e-12)


def test_cosine_similarity_by_hand(fields):
    u, v = fields
    values = []
    for b in range(2):
        for k in range(3):
            for i in range(4):
                for j in range(5):
                    a, c = u[b, k, :, i, j], v[b, k, :, i, j]
                    values.append(a @ c / math.sqrt((a @ a) * (c @ c)))
    assert cosine_similarity(u, v) == pytest.approx(np.mean(values), rel=1e-12)
    assert cosine_similarity(u, u) == pytest.approx(1.0)
    assert cosine_similarity(-u, u) == pytest.approx(-1.0)
    assert cosine_similarity(5.0 * u, v) == pytest.approx(cosine_similarity(u, v), rel=1e-12)
    rotated = np.stack([-u[:, :, 1], u[:, :, 0]], 2)  # perpendicular everywhere
    assert abs(cosine_similarity(rotated, u)) < 1e-12


def test_bad_input_raises(fields):
    pred, y = fields
    with pytest.raises(ValueError, match="shape"):
        relative_mse(pred[:, :2], y)
    bad = y.copy()
    bad[0, 0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="target contains NaN"):
        relative_mse(pred, bad)
    with pytest.raises(ValueError, match="hidden contains NaN"):
        cosine_similarity(np.where(bad == bad, pred, np.nan), y)
    zero = y.copy()
    zero[0, 0, :, 1, 1] = 0
    with pytest.raises(ValueError, match="pixel"):
        relative_mse(pred, zero, normalisation="pixel")
    relative_mse(pred, zero)  # a zero pixel is fine per frame
    with pytest.raises(ValueError, match="zero vector"):
        cosine_similarity(pred, zero)
    with pytest.raises(ValueError, match="normalisation"):
        relative_mse(pred, y, normalisation="sum")
