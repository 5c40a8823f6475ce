"""Sample-to-sample distances, checked against scipy.stats.wasserstein_distance."""

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from probdyn.metrics import sliced_wasserstein, wasserstein_1d


@pytest.mark.parametrize("n, m", [(1, 1), (7, 7), (50, 23), (400, 1000)])
def test_wasserstein_1d_matches_scipy(n, m):
    rng = np.random.default_rng(n + m)
    u = rng.standard_normal(n)
    v = 0.5 + 2.0 * rng.standard_exponential(m)
    assert wasserstein_1d(u, v) == pytest.approx(wasserstein_distance(u, v), rel=1e-12)


def test_wasserstein_1d_ties_and_shift():
    u = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    assert wasserstein_1d(u, u) == 0.0
    assert wasserstein_1d(u, u + 3.0) == pytest.approx(3.0)
    assert wasserstein_1d(u, [0.0, 1.0]) == pytest.approx(wasserstein_distance(u, [0.0, 1.0]))


def test_sliced_wasserstein_one_dimension_is_exact():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(300), rng.uniform(-1, 2, size=200)
    expected = wasserstein_distance(x, y)
    assert sliced_wasserstein(x, y, num_projections=5) == pytest.approx(expected, rel=1e-12)
    assert sliced_wasserstein(x[:, None], y[:, None]) == pytest.approx(expected, rel=1e-12)


def test_sliced_wasserstein_matches_brute_force_projection_average():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((120, 3))
    y = rng.standard_normal((80, 3)) * [1.0, 2.0, 0.5] + [0.3, 0.0, -1.0]
    theta = np.random.default_rng(7).standard_normal((40, 3))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    brute = np.mean([wasserstein_distance(x @ t, y @ t) for t in theta])
    assert sliced_wasserstein(x, y, num_projections=40, seed=7) == pytest.approx(brute, rel=1e-10)


def test_sliced_wasserstein_translation_and_separation():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((500, 2))
    shift = np.array([3.0, 4.0])
    # the projection of a translation by c is a shift by theta'c: E|theta'c| = (2/pi) |c| in 2-D
    sw = sliced_wasserstein(x, x + shift, num_projections=4000)
    assert sw == pytest.approx(2 / np.pi * 5.0, rel=0.03)
    assert sliced_wasserstein(x, x) == 0.0
    # a curve and an ellipse with the same first two moments are told apart
    e = rng.uniform(-np.pi, np.pi, size=2000)
    curve = np.stack([e, np.cos(e)], axis=1)
    blob = rng.multivariate_normal(curve.mean(0), np.cov(curve.T), size=2000)
    other_curve = np.stack([f := rng.uniform(-np.pi, np.pi, 2000), np.cos(f)], axis=1)
    assert sliced_wasserstein(curve, blob) > 3 * sliced_wasserstein(curve, other_curve)


def test_bad_inputs():
    with pytest.raises(ValueError, match="same dimension"):
        sliced_wasserstein(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        wasserstein_1d([0.0, np.nan], [1.0])
    with pytest.raises(ValueError, match="num_projections"):
        sliced_wasserstein(np.zeros((3, 2)), np.zeros((3, 2)), num_projections=0)
    with pytest.raises(ValueError, match="non-empty"):
        wasserstein_1d([], [1.0])
    with pytest.raises(ValueError, match="shape"):
        wasserstein_1d(np.zeros((2, 2)), [1.0])
