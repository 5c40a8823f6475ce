"""Kalman kernels against oracles we did not write: a brute-force joint Gaussian and
statsmodels' state-space filter/smoother (which handles NaN entries natively)."""

import numpy as np
import pytest
import torch
from _models import brute_force, random_model

from probdyn import ops

sm_kf = pytest.importorskip("statsmodels.tsa.statespace.kalman_smoother")


def _with_missing(y, generator=None):
    y = y.clone()
    y[..., 2, :] = float("nan")  # a whole missing step
    y[..., 4, 0] = float("nan")  # a single missing entry
    return y


def _statsmodels(y, m0, P0, F, Q, H, R):
    """statsmodels' KalmanSmoother on our (unbatched) model; its transition[t] maps
    alpha_t -> alpha_{t+1}, i.e. our F[t+1]."""
    T, N = y.shape
    d = m0.shape[-1]

    def tv(x, t_shift=0):
        x = x.numpy()
        if x.shape[0] == 1:
            return x[0]
        x = x[t_shift:] if t_shift else x
        if t_shift:
            x = np.concatenate([x, x[-1:]], 0)  # last entry unused
        return np.ascontiguousarray(np.moveaxis(x, 0, -1))

    ks = sm_kf.KalmanSmoother(k_endog=N, k_states=d, k_posdef=d)
    ks.bind(np.asarray(y.numpy(), order="C"))
    ks["design"] = tv(H)
    ks["obs_cov"] = tv(R)
    ks["transition"] = tv(F, t_shift=1)
    ks["state_cov"] = tv(Q, t_shift=1)
    ks["selection"] = np.eye(d)
    ks.initialize_known(m0.numpy(), P0.numpy())
    return ks.smooth()


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("diagonal_R", [False, True])
@pytest.mark.parametrize("time_varying", [False, True])
def test_against_statsmodels(parallel, diagonal_R, time_varying):
    g = torch.Generator().manual_seed(3)
    T = 9
    m0, P0, F, Q, H, R = random_model(d=3, N=2, T=T, time_varying=time_varying,
                                      diagonal_R=diagonal_R, generator=g)
    y = _with_missing(torch.randn(T, 2, generator=g, dtype=torch.float64))
    res = _statsmodels(y, m0, P0, F, Q, H, R)
    s = ops.kalman_smoother(y, m0, P0, F, Q, H, R, parallel=parallel)
    f = s.filter

    def close(ours, theirs):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-8, atol=1e-10)

    close(f.log_likelihood, res.llf_obs)
    close(f.filtered_loc, res.filtered_state.T)
    close(f.filtered_cov, np.moveaxis(res.filtered_state_cov, -1, 0))
    close(f.predicted_loc, res.predicted_state[:, :T].T)
    close(f.predicted_cov, np.moveaxis(res.predicted_state_cov[..., :T], -1, 0))
    close(s.loc, res.smoothed_state.T)
    close(s.cov, np.moveaxis(res.smoothed_state_cov, -1, 0))


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("T", [1, 2, 5, 8])
def test_against_brute_force_joint_gaussian(parallel, T):
    g = torch.Generator().manual_seed(T)
    m0, P0, F, Q, H, R = random_model(d=3, N=2, T=T, generator=g)
    y = torch.randn(T, 2, generator=g, dtype=torch.float64)
    if T >= 5:
        y = _with_missing(y)
    ll, means, covs, _, _ = brute_force(y, m0, P0, F, Q, H, R)
    s = ops.kalman_smoother(y, m0, P0, F, Q, H, R, parallel=parallel)
    np.testing.assert_allclose(s.filter.log_likelihood.sum().item(), ll, rtol=1e-10)
    np.testing.assert_allclose(s.loc.numpy(), means, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(s.cov.numpy(), covs, rtol=1e-8, atol=1e-10)


def test_parallel_equals_sequential_batched_with_missing():
    g = torch.Generator().manual_seed(5)
    T = 37  # odd and not a power of two: exercises the scan's edge cases
    m0, P0, F, Q, H, R = random_model(d=4, N=3, T=T, batch=(2, 1), generator=g)
    y = torch.randn(5, 2, 3, T, 3, generator=g, dtype=torch.float64)
    y[torch.rand(y.shape, generator=g) < 0.2] = float("nan")
    y[..., 10:14, :] = float("nan")
    a = ops.kalman_smoother(y, m0, P0, F, Q, H, R, parallel=False)
    b = ops.kalman_smoother(y, m0, P0, F, Q, H, R, parallel=True)
    assert a.loc.shape == (5, 2, 3, T, 4) and b.cov.shape == (5, 2, 3, T, 4, 4)
    for u, v in [(a.loc, b.loc), (a.cov, b.cov), (a.filter.log_likelihood,
                                                    b.filter.log_likelihood)]:
        torch.testing.assert_close(u, v, rtol=1e-9, atol=1e-9)
    # the masked entries never influence anything: replace them by garbage
    y2 = torch.where(torch.isnan(y), torch.full_like(y, 1e6), y)
    c = ops.kalman_log_likelihood(y2, m0, P0, F, Q, H, R, mask=~torch.isnan(y))
    torch.testing.assert_close(c, a.filter.log_likelihood.sum(-1))


def test_float32_matches_float64():
    g = torch.Generator().manual_seed(7)
    m0, P0, F, Q, H, R = random_model(d=3, N=2, T=50, time_varying=False, generator=g)
    y = torch.randn(4, 50, 2, generator=g, dtype=torch.float64)
    ref = ops.kalman_log_likelihood(y, m0, P0, F, Q, H, R)
    for parallel in (False, True):
        args32 = [x.float() for x in (y, m0, P0, F, Q, H, R)]
        ll32 = ops.kalman_log_likelihood(*args32, parallel=parallel)
        assert ll32.dtype == torch.float32
        torch.testing.assert_close(ll32.double(), ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("parallel", [False, True])
def test_gradcheck(parallel):
    g = torch.Generator().manual_seed(11)
    T = 5
    m0, P0, F, Q, H, R = random_model(d=2, N=2, T=T, generator=g)
    y = torch.randn(T, 2, generator=g, dtype=torch.float64)
    y[1, 0] = float("nan")
    A_Q = torch.linalg.cholesky(Q).requires_grad_()
    A_R = torch.linalg.cholesky(R).requires_grad_()
    A_P = torch.linalg.cholesky(P0).requires_grad_()
    params = (m0.requires_grad_(), A_P, F.requires_grad_(), A_Q, H.requires_grad_(), A_R)

    def fn(m0, A_P, F, A_Q, H, A_R):
        s = ops.kalman_smoother(y, m0, A_P @ A_P.mT, F, A_Q @ A_Q.mT, H, A_R @ A_R.mT,
                                parallel=parallel)
        return s.filter.log_likelihood.sum(), s.loc, s.cov

    assert torch.autograd.gradcheck(fn, params)


def test_posterior_samples_match_brute_force_posterior():
    g = torch.Generator().manual_seed(2)
    T = 6
    m0, P0, F, Q, H, R = random_model(d=2, N=2, T=T, generator=g)
    y = _with_missing(torch.randn(T, 2, generator=g, dtype=torch.float64))
    _, _, _, mean, cov = brute_force(y, m0, P0, F, Q, H, R)
    n = 40000
    for parallel in (False, True):
        torch.manual_seed(0)
        x = ops.kalman_sample_posterior(y, m0, P0, F, Q, H, R, sample_shape=(n,),
                                        parallel=parallel)
        assert x.shape == (n, T, 2)
        flat = x.reshape(n, -1).numpy()
        se = np.sqrt(np.diag(cov) / n)
        assert np.all(np.abs(flat.mean(0) - mean) < 5 * se)
        emp = np.cov(flat.T)
        # joint covariance, including across time steps (a marginal sampler would fail here)
        assert np.abs(emp - cov).max() < 0.05 * np.abs(cov).max()


def _business_day_seasonal_model(T):
    """Level + day-of-week one-hot state (d = 8) seen on business days only, as in the
    local-global NKF: the Saturday/Sunday states are never observed and never diffuse, so the
    filtered covariances mix variances of 1 with ones of 1e-6."""
    f64 = {"dtype": torch.float64}
    days = torch.arange(T) % 5  # Monday..Friday
    onehot = torch.nn.functional.one_hot(days, 7).double()  # (T, 7)
    d = 8
    m0, P0 = torch.zeros(d, **f64), torch.eye(d, **f64)
    F = torch.eye(d, **f64).expand(T, d, d)
    Q = torch.diag_embed(torch.cat([torch.full((T, 1), 3e-6, **f64), 2e-6 * onehot], -1))
    H = torch.cat([torch.ones(T, 1, **f64), onehot], -1).unsqueeze(-2)  # (T, 1, d)
    R = torch.full((T, 1, 1), 4e-4, **f64)
    return m0, P0, F, Q, H, R


def test_posterior_samples_with_never_observed_states():
    """Regression: the backward variance P^f - E P^p E' lost positive semi-definiteness to
    rounding here and ``kalman_sample_posterior`` raised; the Joseph form keeps it."""
    T = 40
    m0, P0, F, Q, H, R = _business_day_seasonal_model(T)
    g = torch.Generator().manual_seed(3)
    y = 1.0 + 0.02 * torch.randn(T, 1, generator=g, dtype=torch.float64).cumsum(0)
    y[5:9] = float("nan")
    _, _, _, mean, cov = brute_force(y, m0, P0, F, Q, H, R)
    n = 20000
    for parallel in (False, True):
        x = ops.kalman_sample_posterior(y, m0, P0, F, Q, H, R, sample_shape=(n,),
                                        parallel=parallel, generator=g)
        flat = x.reshape(n, -1).numpy()
        se = np.sqrt(np.diag(cov) / n)
        assert np.all(np.abs(flat.mean(0) - mean) < 5 * se + 1e-12)
        assert np.abs(np.cov(flat.T) - cov).max() < 0.05 * np.abs(cov).max()
        s = ops.kalman_smoother(y, m0, P0, F, Q, H, R, parallel=parallel)
        np.testing.assert_allclose(s.loc.reshape(-1).numpy(), mean, atol=1e-8)


def test_marginal_moments_match_joint_gaussian():
    from _models import joint_gaussian

    g = torch.Generator().manual_seed(4)
    T = 5
    m0, P0, F, Q, H, R = random_model(d=3, N=2, T=T, generator=g)
    mx, Cxx, my, Cyy, _ = joint_gaussian(m0, P0, F, Q, H, R, T)
    xm, xc, ym, yc = ops.marginal_moments(m0, P0, F, Q, H, R, T)
    torch.testing.assert_close(ym.reshape(-1), my)
    torch.testing.assert_close(yc[2], Cyy[4:6, 4:6])
    torch.testing.assert_close(xc[3], Cxx[9:12, 9:12])


def test_clear_errors():
    m0, P0, F, Q, H, R = random_model(d=2, N=1, T=4, time_varying=False)
    y = torch.randn(4, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="observation_matrix"):
        ops.kalman_filter(y, m0, P0, F, Q, H[..., :1], R)
    with pytest.raises(ValueError, match="transition_matrix"):
        ops.kalman_filter(y, m0, P0, F.expand(3, 2, 2), Q, H, R)
    with pytest.raises(ValueError, match="transition_cov contains NaN"):
        ops.kalman_filter(y, m0, P0, F, Q * float("nan"), H, R)
    bad_R = -R.expand(4, 1, 1).clone()
    bad_R[:2] = R
    for parallel in (False, True):
        with pytest.raises(ValueError, match="time step 2"):
            ops.kalman_filter(y, m0, P0, F, Q, H, bad_R, parallel=parallel)
    with pytest.raises(ValueError, match="no time steps"):
        ops.kalman_filter(y[:0], m0, P0, F, Q, H, R)
    with pytest.raises(ValueError, match="mask must be a boolean"):
        ops.kalman_filter(y, m0, P0, F, Q, H, R, mask=torch.ones(4, 1))


def test_steady_state_path_matches_statsmodels_and_full_filter():
    """Long time-invariant fully observed series take the steady-state path."""
    from probdyn.ops._kalman import _prepare, _run_filter

    g = torch.Generator().manual_seed(8)
    T = 700
    m0, P0, F, Q, H, R = random_model(d=3, N=2, T=T, time_varying=False, generator=g)
    y = torch.randn(2, T, 2, generator=g, dtype=torch.float64)
    p = _prepare(y, m0, P0, F, Q, H, R, None)
    steady = _run_filter(p, parallel=True, steady_state=True)
    full = _run_filter(p, parallel=False, steady_state=False)
    for a, b in zip(steady, full):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    res = _statsmodels(y[1], m0, P0, F, Q, H, R)
    s = ops.kalman_smoother(y, m0, P0, F, Q, H, R)
    np.testing.assert_allclose(s.filter.log_likelihood[1].numpy(), res.llf_obs, rtol=1e-8)
    np.testing.assert_allclose(s.loc[1].numpy(), res.smoothed_state.T, rtol=1e-8, atol=1e-9)


def test_linear_recurrence_matches_loop():
    from probdyn.ops._steady import linear_recurrence

    g = torch.Generator().manual_seed(1)
    for n in (1, 2, 7, 33):
        A = 0.5 * torch.randn(n, 3, 3, generator=g, dtype=torch.float64)
        c = torch.randn(n, 4, 3, generator=g, dtype=torch.float64)
        x, ref = torch.zeros(4, 3, dtype=torch.float64), []
        for t in range(n):
            x = (A[t] @ x.unsqueeze(-1)).squeeze(-1) + c[t]
            ref.append(x)
        torch.testing.assert_close(linear_recurrence(A.unsqueeze(1), c), torch.stack(ref))
        torch.testing.assert_close(
            linear_recurrence(A[:1].unsqueeze(1), c)[-1],
            torch.stack([ref_x for ref_x in _loop_const(A[0], c)])[-1],
        )


def _loop_const(A, c):
    x = torch.zeros(c.shape[1:], dtype=c.dtype)
    for t in range(c.shape[0]):
        x = (A @ x.unsqueeze(-1)).squeeze(-1) + c[t]
        yield x


def test_parallel_accurate_with_vague_initial_state():
    """A diffuse-like prior (variance 1e8) with missing data: the parallel filter's sequential
    warm-up keeps it as accurate as the Joseph-form filter."""
    g = torch.Generator().manual_seed(9)
    T, d = 300, 4
    F = torch.eye(d, dtype=torch.float64) + torch.diag(torch.ones(d - 1, dtype=torch.float64), 1)
    Q = torch.diag(torch.tensor([1e-2, 1e-4, 1e-3, 1e-3], dtype=torch.float64))
    H = torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    R = torch.tensor([[0.1]], dtype=torch.float64)
    m0, P0 = torch.zeros(d, dtype=torch.float64), 1e8 * torch.eye(d, dtype=torch.float64)
    y = torch.cumsum(torch.randn(T, 1, generator=g, dtype=torch.float64), 0) + 300.0
    y[torch.rand(T, generator=g) < 0.1] = float("nan")
    args = (y, m0, P0, F[None], Q[None], H[None], R[None])
    a = ops.kalman_smoother(*args, parallel=False)
    b = ops.kalman_smoother(*args, parallel=True)
    torch.testing.assert_close(b.filter.log_likelihood, a.filter.log_likelihood, rtol=1e-9,
                               atol=1e-9)
    torch.testing.assert_close(b.loc, a.loc, rtol=1e-9, atol=1e-7)
