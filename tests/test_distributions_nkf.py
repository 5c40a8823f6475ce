"""NormalizingKalmanFilter against independent oracles: the linear-Gaussian model (identity and
affine flows), the brute-force joint Gaussian of the stacked z_{1:T} plus autograd log-dets
(mixing RealNVP, element-wise flows with missing entries), brute-force Gaussian conditioning
(filter, smoother, forecast, imputation), and the Pyro protocol (plate, SVI, Predictive)."""

import nflows.transforms as nft
import numpy as np
import pyro
import pyro.distributions as pdist
import pyro.distributions.transforms as ptr
import pytest
import torch
from _models import brute_force, joint_gaussian, perturb_parameters, random_model
from scipy.stats import multivariate_normal
from torch.distributions import AffineTransform

from probdyn.distributions import LinearGaussianSSM, NormalizingKalmanFilter
from probdyn.flows import (
    ComposeFlow,
    ElementwiseAffine,
    ElementwiseSpline,
    IdentityFlow,
    RealNVP,
    SinhArcsinh,
    TorchTransformFlow,
)

D, N = 3, 2


def _params(T, batch=(), time_varying=True, seed=0, n=N):
    g = torch.Generator().manual_seed(seed)
    return random_model(d=D, N=n, T=T, batch=batch, time_varying=time_varying, generator=g)


def _ssm(T, **kw):
    return LinearGaussianSSM(*_params(T, **kw), duration=T)


def _realnvp(n=N):
    return perturb_parameters(RealNVP(n, num_blocks=4, hidden_features=8), 0.4).double()


def _elementwise(n=N):
    return ComposeFlow(ElementwiseAffine(n, loc=0.5, scale=1.7),
                       perturb_parameters(ElementwiseSpline(n, num_bins=5, tail_bound=3.0)),
                       perturb_parameters(SinhArcsinh(n), 0.3)).double()


def _step_log_dets(flow, y):
    """log|det J_{f^-1}(y_t)| for each row of y (T, N), from the autograd Jacobian."""
    return torch.stack([torch.linalg.slogdet(torch.autograd.functional.jacobian(flow.inv, r))[1]
                        for r in y])


def _entry_log_dets(flow, y):
    """log|d z_i / d y_i| for each entry of y (T, N), from the autograd Jacobian's diagonal."""
    return torch.stack([torch.diagonal(torch.autograd.functional.jacobian(flow.inv, r))
                        for r in y]).abs().log()


def _condition(mean, cov, values, known):
    """Brute-force Gaussian conditioning of the unknown entries on the known ones (numpy)."""
    k, u = known, ~known
    gain = cov[np.ix_(u, k)] @ np.linalg.inv(cov[np.ix_(k, k)])
    m = mean[u] + gain @ (values[k] - mean[k])
    c = cov[np.ix_(u, u)] - gain @ cov[np.ix_(k, u)]
    return m, c


# -------------------------------------------------------------------- shapes, protocol
def test_shapes_sampling_and_expand():
    nkf = NormalizingKalmanFilter(_ssm(7, batch=(4,), time_varying=False), _realnvp())
    assert nkf.batch_shape == (4,) and nkf.event_shape == (7, N)
    y = nkf.sample((5,))
    assert y.shape == (5, 4, 7, N) and torch.isfinite(y).all()
    assert nkf.log_prob(y).shape == (5, 4)
    assert nkf.rsample().requires_grad  # reparametrised through the flow's parameters
    big = nkf.expand((3, 4))
    assert big.batch_shape == (3, 4)
    torch.testing.assert_close(big.log_prob(y[:3]), nkf.log_prob(y[:3]))
    assert nkf.filter(y).batch_shape == (5, 4, 7) and nkf.smooth(y).event_shape == (D,)
    assert nkf.sample_posterior(y[0], (6,)).shape == (6, 4, 7, D)
    x, z, yy = nkf.sample_states((2,))
    assert x.shape == (2, 4, 7, D) and z.shape == yy.shape == (2, 4, 7, N)
    torch.testing.assert_close(nkf.flow.inv(yy), z)
    fc = nkf.forecast(y[0], 3)
    assert isinstance(fc, NormalizingKalmanFilter) and fc.event_shape == (3, N)
    assert fc.sample((11,)).shape == (11, 4, 3, N)


def test_identity_flow_equals_linear_gaussian_ssm():
    ssm = _ssm(8, batch=(3,), time_varying=False)
    nkf = NormalizingKalmanFilter(ssm, IdentityFlow(N))
    y = ssm.sample((2,))
    y[0, 1, 2, 0] = float("nan")  # a single missing entry (the identity is element-wise)
    y[1, 0, 4] = float("nan")     # a whole missing step
    torch.testing.assert_close(nkf.log_prob(y), ssm.log_prob(y), rtol=0, atol=0)
    for a, b in ((nkf.filter(y), ssm.filter(y)), (nkf.smooth(y), ssm.smooth(y))):
        torch.testing.assert_close(a.loc, b.loc)
        torch.testing.assert_close(a.covariance_matrix, b.covariance_matrix)
    future = ssm.sample()[..., :3, :]
    torch.testing.assert_close(nkf.forecast(y[0], 3).log_prob(future),
                               ssm.forecast(y[0], 3).log_prob(future))


def test_elementwise_affine_is_a_rescaled_linear_gaussian_model():
    """Spec check 7: y = a * z + b under (H, R) is the LGM (diag(a) H, diag(a) R diag(a)) on
    y - b, and the NKF's log-det term is -sum log|a_i| per observed entry."""
    m0, P0, F, Q, H, R = _params(9)
    a = torch.tensor([0.4, 3.0], dtype=torch.float64)
    b = torch.tensor([1.0, -2.0], dtype=torch.float64)
    nkf = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R),
                                  ElementwiseAffine(N, loc=b, scale=a).double())
    A = torch.diag(a)
    lgm = LinearGaussianSSM(m0, P0, F, Q, A @ H, A @ R @ A)
    y = nkf.sample((4,))
    y[1, 3, 1] = float("nan")
    y[2, 5] = float("nan")
    torch.testing.assert_close(nkf.log_prob(y), lgm.log_prob(y - b))


# ------------------------------------------------------------ brute-force likelihood
MIXING_FLOWS = {
    "realnvp": _realnvp,
    "realnvp_after_sinh_arcsinh": lambda: ComposeFlow(perturb_parameters(SinhArcsinh(N)).double(),
                                                      _realnvp()),
    # raw third-party transforms, wrapped by the distribution itself (as_flow)
    "nflows_maf": lambda: perturb_parameters(
        nft.MaskedAffineAutoregressiveTransform(N, hidden_features=6), 0.3).double(),
    "pyro_affine_coupling": lambda: perturb_parameters(
        ptr.affine_coupling(N, hidden_dims=[6])).double(),
}


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("flow_name", sorted(MIXING_FLOWS))
def test_log_prob_equals_brute_force_with_mixing_flows(flow_name, missing):
    T = 5
    m0, P0, F, Q, H, R = _params(T)
    nkf = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R),
                                  MIXING_FLOWS[flow_name]())
    flow = nkf.flow
    assert not flow.elementwise
    y = nkf.sample()
    rows = torch.ones(T, dtype=torch.bool)
    if missing:
        rows[[1, 3]] = False
        y[~rows] = float("nan")
    _, _, my, Cyy, _ = joint_gaussian(m0, P0, F, Q, H, R, T)
    z = flow.inv(y[rows]).detach()
    keep = rows.repeat_interleave(N).numpy()
    ll_gauss = multivariate_normal(my.numpy()[keep], Cyy.numpy()[np.ix_(keep, keep)]).logpdf(
        z.reshape(-1).numpy())
    expected = ll_gauss + _step_log_dets(flow, y[rows]).sum().item()
    assert abs(nkf.log_prob(y).item() - expected) < 1e-8


def test_missing_entries_with_elementwise_flow_equal_brute_force_marginal():
    T = 6
    m0, P0, F, Q, H, R = _params(T, n=3)
    flow = _elementwise(3)
    nkf = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R), flow)
    y = nkf.sample()
    y[0, 1] = y[2, 0] = y[2, 2] = y[5, 1] = float("nan")
    y[3] = float("nan")
    observed = ~torch.isnan(y)
    _, _, my, Cyy, _ = joint_gaussian(m0, P0, F, Q, H, R, T)
    o = observed.reshape(-1).numpy()
    z = flow.inv(torch.where(observed, y, 0.0)).detach()
    ll_gauss = multivariate_normal(my.numpy()[o], Cyy.numpy()[np.ix_(o, o)]).logpdf(
        z.reshape(-1).numpy()[o])
    ld = _entry_log_dets(flow, torch.where(observed, y, 0.0))[observed].sum().item()
    assert abs(nkf.log_prob(y).item() - (ll_gauss + ld)) < 1e-8
    # and the mixing flow refuses the same data
    with pytest.raises(ValueError, match="mixes the series"):
        NormalizingKalmanFilter(nkf.ssm, _realnvp(3)).log_prob(y)


# ------------------------------------------------------------ filtering, smoothing
def test_filter_and_smoother_equal_brute_force_conditioning_on_pseudo_observations():
    T = 6
    m0, P0, F, Q, H, R = _params(T)
    flow = _realnvp()
    nkf = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R), flow)
    y = nkf.sample()
    y[2] = float("nan")
    z = flow.inv(torch.where(torch.isnan(y), 0.0, y)).detach()
    z[2] = float("nan")
    filt, smooth = nkf.filter(y), nkf.smooth(y)
    _, means, covs, _, _ = brute_force(z.numpy(), m0, P0, F, Q, H, R)
    np.testing.assert_allclose(smooth.loc.detach().numpy(), means, atol=1e-9)
    np.testing.assert_allclose(smooth.covariance_matrix.detach().numpy(), covs, atol=1e-9)
    for t in range(T):
        trunc = tuple(x[: t + 1] for x in (F, Q, H, R))
        _, means_t, covs_t, _, _ = brute_force(z[: t + 1].numpy(), m0, P0, *trunc)
        np.testing.assert_allclose(filt.loc[t].detach().numpy(), means_t[-1], atol=1e-9)
        np.testing.assert_allclose(filt.covariance_matrix[t].detach().numpy(), covs_t[-1],
                                   atol=1e-9)


def test_latent_posterior_depends_on_the_flow_only_through_z():
    """Spec check 6: two flows giving the same z give the same filtered/smoothed states."""
    ssm = _ssm(6)
    z = ssm.sample()
    f1 = ElementwiseAffine(N, loc=[1.0, 2.0], scale=[2.0, 0.5]).double()
    f2 = _realnvp()
    a, b = NormalizingKalmanFilter(ssm, f1), NormalizingKalmanFilter(ssm, f2)
    ya, yb = f1(z).detach(), f2(z).detach()
    torch.testing.assert_close(a.smooth(ya).loc, b.smooth(yb).loc)
    torch.testing.assert_close(a.filter(ya).covariance_matrix, b.filter(yb).covariance_matrix)


# ------------------------------------------------------------------ forecasting
def test_forecast_joint_density_and_sample_moments():
    T, h = 6, 3
    m0, P0, F, Q, H, R = _params(T + h, time_varying=False)
    flow = _realnvp()
    full = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R, duration=T + h), flow)
    past_model = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R, duration=T), flow)
    y = full.sample().detach()
    past, future = y[:T], y[T:]
    fc = past_model.forecast(past, h)
    # joint density of a candidate future: chain rule and brute-force conditional + log-dets
    chain = full.log_prob(y) - past_model.log_prob(past)
    torch.testing.assert_close(fc.log_prob(future), chain)
    _, _, my, Cyy, _ = joint_gaussian(m0, P0, F, Q, H, R, T + h)
    z = flow.inv(y).detach().reshape(-1).numpy()
    known = np.arange((T + h) * N) < T * N
    m, c = _condition(my.numpy(), Cyy.numpy(), z, known)
    expected = multivariate_normal(m, c).logpdf(z[~known]) + _step_log_dets(flow, future).sum()
    assert abs(fc.log_prob(future).item() - expected.item()) < 1e-8
    # k-step marginal moments of z (predict-only propagation) against the conditional blocks
    np.testing.assert_allclose(fc.ssm.mean.detach().reshape(-1).numpy(), m, atol=1e-9)
    for k in range(h):
        np.testing.assert_allclose(fc.ssm.covariance_matrix[k].detach().numpy(),
                                   c[k * N:(k + 1) * N, k * N:(k + 1) * N], atol=1e-9)
    # samples, mapped back to z: moments converge to the closed form, across horizons too
    S = 40000
    zs = flow.inv(fc.sample((S,))).detach().reshape(S, -1).numpy()
    se = np.sqrt(np.diag(c) / S)
    assert np.all(np.abs(zs.mean(0) - m) < 5 * se)
    assert np.abs(np.cov(zs.T) - c).max() < 0.05 * np.abs(c).max()


# ------------------------------------------------------------------ imputation
@pytest.mark.parametrize("kind", ["elementwise", "mixing"])
def test_impute_matches_brute_force_conditioning(kind):
    T = 6
    m0, P0, F, Q, H, R = _params(T, n=3)
    flow = _elementwise(3) if kind == "elementwise" else _realnvp(3)
    nkf = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R), flow)
    y = nkf.sample().detach()
    truth = y.clone()
    y[1] = float("nan")
    y[4] = float("nan")
    if kind == "elementwise":
        y[2, 0] = y[3, 2] = y[5, 1] = float("nan")
    observed = ~torch.isnan(y)
    S = 30000
    imp = nkf.impute(y, num_samples=S, seed=5)
    assert imp.samples.shape == (S, T, 3)
    torch.testing.assert_close(imp.samples[:, observed], truth[observed].expand(S, -1))
    torch.testing.assert_close(imp.median[observed], truth[observed])
    _, _, my, Cyy, _ = joint_gaussian(m0, P0, F, Q, H, R, T)
    z = flow.inv(torch.where(observed, y, 0.0)).detach().reshape(-1).numpy()
    o = observed.reshape(-1).numpy()
    m, c = _condition(my.numpy(), Cyy.numpy(), z, o)
    # Gaussian marginals of z at the missing entries (per step, cross-series blocks included)
    loc_z = imp.loc_z.detach().reshape(-1).numpy()
    np.testing.assert_allclose(loc_z[~o], m, atol=1e-9)
    missing_idx = np.flatnonzero(~o)
    for t in range(T):
        sel = [k for k, i in enumerate(missing_idx) if i // 3 == t]
        if sel:
            cols = missing_idx[sel] % 3
            np.testing.assert_allclose(imp.cov_z[t].detach().numpy()[np.ix_(cols, cols)],
                                       c[np.ix_(sel, sel)], atol=1e-9)
    assert imp.cov_z.detach().numpy().reshape(T, 3, 3)[observed.numpy()].__abs__().max() < 1e-9
    # joint sample paths: empirical moments of f^-1(samples) over ALL missing entries
    zs = flow.inv(imp.samples).detach().reshape(S, -1).numpy()[:, ~o]
    se = np.sqrt(np.diag(c) / S)
    assert np.all(np.abs(zs.mean(0) - m) < 5 * se)
    assert np.abs(np.cov(zs.T) - c).max() < 0.05 * np.abs(c).max()
    if kind == "elementwise":  # exact marginal medians: a monotone map of a Gaussian
        med = np.median(imp.samples.detach().reshape(S, -1).numpy()[:, ~o], axis=0)
        spread = imp.samples.detach().reshape(S, -1).numpy()[:, ~o].std(0)
        assert np.all(np.abs(med - imp.median.reshape(-1).detach().numpy()[~o]) < 0.05 * spread)
    # reproducible with a seed
    again = nkf.impute(y, num_samples=4, seed=5).samples
    torch.testing.assert_close(again, nkf.impute(y, num_samples=4, seed=5).samples)


# --------------------------------------------------------------------- Pyro
def test_pyro_plate_svi_trains_flow_and_ssm_parameters():
    pyro.clear_param_store()
    B, T = 6, 20
    m0, P0, F, Q, H, R = _params(T, time_varying=False)
    # data from a skewed, mixing flow: the fitted flow has to learn something
    true_flow = perturb_parameters(RealNVP(N, num_blocks=2, hidden_features=8), 0.8,
                                   seed=7).double()
    with torch.no_grad():
        y = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R, duration=T),
                                    true_flow).expand((B,)).sample()
    flow = RealNVP(N, num_blocks=2, hidden_features=8).double()

    def model(y):
        pyro.module("flow", flow)
        log_r = pyro.param("log_r", torch.zeros(N, dtype=torch.float64))
        ssm = LinearGaussianSSM(m0, P0, F, Q, H, torch.diag_embed(log_r.exp()), duration=T)
        with pyro.plate("series", B):
            return pyro.sample("y", NormalizingKalmanFilter(ssm, flow), obs=y)

    def guide(y):
        pass

    svi = pyro.infer.SVI(model, guide, pyro.optim.Adam({"lr": 0.02}), pyro.infer.Trace_ELBO())
    losses = [svi.step(y) for _ in range(30)]
    assert losses[-1] < losses[0] - 1.0
    trace = pyro.poutine.trace(model).get_trace(y)
    site = trace.nodes["y"]
    assert site["fn"].batch_shape == (B,)
    torch.testing.assert_close(trace.log_prob_sum().detach(), torch.tensor(-losses[-1]).to(
        torch.float64), rtol=0.05, atol=5.0)
    params = set(pyro.get_param_store().keys())
    assert "log_r" in params and any(k.startswith("flow$$$") for k in params)
    pred = pyro.infer.Predictive(model, num_samples=3)(None)
    assert pred["y"].shape == (3, B, T, N)


class _LogProb(torch.nn.Module):
    """log p(y) as a function of the emission matrix, with the flow's parameters swappable by
    ``torch.func.functional_call``."""

    def __init__(self, flow, y, m0, P0, F, Q, R):
        super().__init__()
        self.flow, self.y, self.rest = flow, y, (m0, P0, F, Q, R)

    def forward(self, H):
        m0, P0, F, Q, R = self.rest
        ssm = LinearGaussianSSM(m0, P0, F, Q, H, R)
        return NormalizingKalmanFilter(ssm, self.flow).log_prob(self.y)


@pytest.mark.parametrize("kind", ["elementwise", "mixing"])
def test_gradients_match_finite_differences(kind):
    """Spec check 16: d log p / d (flow and ssm parameters), float64 gradcheck."""
    T = 4
    m0, P0, F, Q, H, R = _params(T)
    if kind == "elementwise":
        flow = ComposeFlow(perturb_parameters(SinhArcsinh(N), 0.3),
                           perturb_parameters(ElementwiseSpline(N, num_bins=3, tail_bound=2.0)))
    else:
        flow = ComposeFlow(perturb_parameters(ElementwiseSpline(N, num_bins=3, tail_bound=2.0)),
                           perturb_parameters(RealNVP(N, num_blocks=2, hidden_features=3,
                                              num_layers=1)))
    flow = flow.double()
    y = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R), flow).sample().detach()
    if kind == "elementwise":
        y[1, 0] = float("nan")
    else:
        y[2] = float("nan")
    module = _LogProb(flow, y, m0, P0, F, Q, R)
    names = [n for n, _ in module.named_parameters()]

    def f(H_, *flow_params):
        return torch.func.functional_call(module, dict(zip(names, flow_params)), (H_,))

    inputs = (H.clone().requires_grad_(),) + tuple(
        p.detach().clone().requires_grad_() for p in module.parameters())
    assert torch.autograd.gradcheck(f, inputs)


# ------------------------------------------------------------------- bad input
def test_bad_input_errors():
    ssm = _ssm(5)
    nkf = NormalizingKalmanFilter(ssm, _realnvp())
    y = nkf.sample().detach()
    with pytest.raises(ValueError, match="num_series = 3.*N = 2"):
        NormalizingKalmanFilter(ssm, RealNVP(3).double())
    with pytest.raises(ValueError, match="LinearGaussianSSM"):
        NormalizingKalmanFilter(pdist.Normal(0.0, 1.0), IdentityFlow(N))
    for horizon in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="horizon"):
            nkf.forecast(y, horizon)
    partial = y.clone()
    partial[2, 1] = float("nan")
    with pytest.raises(ValueError, match="only some entries missing"):
        nkf.log_prob(partial)
    with pytest.raises(ValueError, match="only some entries missing"):
        nkf.impute(partial)
    bad = _realnvp()
    with torch.no_grad():
        next(bad.parameters())[0, 0] = float("nan")
    with pytest.raises(ValueError, match="flow parameter .* NaN"):
        NormalizingKalmanFilter(ssm, bad)
    with pytest.raises(ValueError, match="dtype"):
        NormalizingKalmanFilter(ssm, RealNVP(N))  # float32 flow, float64 ssm
    m0, P0, F, Q, H, R = _params(5)
    Q = Q.clone()
    Q[2, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="transition_cov contains NaN"):
        NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R), IdentityFlow(N))
    singular = TorchTransformFlow(AffineTransform(torch.zeros(N, dtype=torch.float64),
                                                  torch.tensor([1.0, 0.0], dtype=torch.float64)),
                                  N)
    with pytest.raises(ValueError, match="not finite"):
        NormalizingKalmanFilter(ssm, singular).log_prob(y)
    with pytest.raises(ValueError, match="event shape"):
        nkf.log_prob(y[:, :1])
    with pytest.raises(ValueError, match="infinite"):
        nkf.log_prob(torch.full_like(y, float("inf")))
    with pytest.raises(ValueError, match="num_samples"):
        nkf.impute(y, num_samples=0)


# ------------------------------------------------ batches, dtypes, network parameters
def test_batched_inference_equals_per_series_runs():
    T = 7
    params = _params(T, batch=(2,), n=3)
    flow = _elementwise(3)
    nkf = NormalizingKalmanFilter(LinearGaussianSSM(*params), flow)
    y = nkf.sample((3,)).detach()
    y[0, 1, 2, 1] = float("nan")
    y[:, :, 4] = float("nan")
    lp = nkf.log_prob(y)
    imp = nkf.impute(y, num_samples=5, seed=0)
    assert imp.samples.shape == (5, 3, 2, T, 3) and imp.cov_z.shape == (3, 2, T, 3, 3)
    for i in range(3):
        for b in range(2):
            one = NormalizingKalmanFilter(LinearGaussianSSM(*(p[b] for p in params)), flow)
            torch.testing.assert_close(lp[i, b], one.log_prob(y[i, b]))
            ref = one.impute(y[i, b], num_samples=2)
            torch.testing.assert_close(imp.loc_z[i, b], ref.loc_z)
            torch.testing.assert_close(imp.cov_z[i, b], ref.cov_z)
            torch.testing.assert_close(imp.median[i, b], ref.median)


def test_float32_matches_float64():
    T = 12
    p64 = _params(T, time_varying=False)
    f64 = _realnvp()
    y = NormalizingKalmanFilter(LinearGaussianSSM(*p64, duration=T), f64).sample((3,)).detach()
    f32 = _realnvp().float()
    f32.load_state_dict({k: v.float() for k, v in f64.state_dict().items()})
    nkf32 = NormalizingKalmanFilter(LinearGaussianSSM(*(x.float() for x in p64), duration=T),
                                    f32)
    lp32 = nkf32.log_prob(y.float())
    assert lp32.dtype == torch.float32
    lp64 = NormalizingKalmanFilter(LinearGaussianSSM(*p64, duration=T), f64).log_prob(y)
    torch.testing.assert_close(lp32.double(), lp64, rtol=1e-4, atol=1e-3)


def test_network_produced_time_varying_parameters_get_gradients():
    """A batch of series whose noise levels come from a network over covariates (the
    local-global use): log_prob is differentiable in the network and the flow."""
    B, T, k = 4, 10, 3
    m0, P0, F, Q, H, _ = _params(T, time_varying=False)
    covariates = torch.randn(B, T, k, dtype=torch.float64)
    net = torch.nn.Linear(k, N).double()
    flow = _realnvp()
    R = torch.diag_embed(torch.nn.functional.softplus(net(covariates)) + 0.01)  # (B, T, N, N)
    nkf = NormalizingKalmanFilter(LinearGaussianSSM(m0, P0, F, Q, H, R), flow)
    assert nkf.batch_shape == (B,) and nkf.event_shape == (T, N)
    y = nkf.sample().detach()
    y[1, 3] = float("nan")
    loss = -nkf.log_prob(y).sum()
    loss.backward()
    for p in list(net.parameters()) + list(flow.parameters()):
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert net.weight.grad.abs().max() > 0
