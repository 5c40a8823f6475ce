"""xarray / ArviZ / netCDF edges: round trips, a real NUTS run against the conjugate posterior."""

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pyro
import pyro.distributions as dist
import pytest
import torch
import xarray as xr
from pyro.infer import MCMC, NUTS, Predictive
from pyro.infer.autoguide import AutoNormal

from probdyn.io import _arviz as arviz_impl
from probdyn.io import (
    add_summaries,
    mvn_to_dataset,
    netcdf_attr,
    samples_to_dataset,
    to_inference_data,
    write_netcdf,
)

# ----------------------------------------------------------------------------- Gaussian marginals


def _random_cov(shape, d, gen):
    a = torch.randn(*shape, d, d, generator=gen, dtype=torch.float64)
    return a @ a.mT + 0.1 * torch.eye(d, dtype=torch.float64)


def test_mvn_to_dataset_round_trip():
    gen = torch.Generator().manual_seed(0)
    loc = torch.randn(2, 3, 7, 4, generator=gen, dtype=torch.float64)
    cov = _random_cov((2, 3, 7), 4, gen)
    time = pd.date_range("2021-03-01", periods=7, freq="h")
    ds = mvn_to_dataset(loc, cov, time=time, state_names=["l", "b", "s1", "s2"], dims=("env", "k"))
    assert ds["mean"].dims == ("env", "k", "time", "state")
    assert ds["variance"].dims == ("env", "k", "time", "state")
    assert ds["covariance"].dims == ("env", "k", "time", "state", "state_")
    np.testing.assert_array_equal(ds["mean"].values, loc.numpy())
    np.testing.assert_array_equal(ds["covariance"].values, cov.numpy())
    np.testing.assert_array_equal(
        ds["variance"].values, torch.diagonal(cov, dim1=-2, dim2=-1).numpy()
    )
    assert (ds.indexes["time"] == time).all()
    assert list(ds["state"].values) == ["l", "b", "s1", "s2"]
    assert list(ds["state_"].values) == ["l", "b", "s1", "s2"]
    # selecting by name gives the right entries
    np.testing.assert_array_equal(
        ds["covariance"].sel(state="b", state_="s2").values, cov[..., 1, 3].numpy()
    )
    # default leading dim names, numpy input and a custom state dim name
    ds2 = mvn_to_dataset(loc.numpy(), cov.numpy(), name="z")
    assert ds2["covariance"].dims == ("batch_0", "batch_1", "time", "z", "z_")
    np.testing.assert_array_equal(ds2["time"].values, np.arange(7))


def test_mvn_to_dataset_from_distribution():
    gen = torch.Generator().manual_seed(1)
    cov = _random_cov((5,), 3, gen)
    mvn = dist.MultivariateNormal(torch.zeros(3, dtype=torch.float64) + 2.0, cov)
    ds = mvn_to_dataset(mvn)
    np.testing.assert_array_equal(ds["mean"].values, np.full((5, 3), 2.0))
    np.testing.assert_allclose(ds["covariance"].values, cov.numpy(), rtol=1e-15, atol=1e-15)


def test_mvn_to_dataset_rejects_bad_input():
    gen = torch.Generator().manual_seed(2)
    loc = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    cov = _random_cov((4,), 2, gen)
    with pytest.raises(ValueError, match="cov must have shape"):
        mvn_to_dataset(loc, cov[:3])
    asym = cov.clone()
    asym[1, 0, 1] += 1.0
    with pytest.raises(ValueError, match="not symmetric"):
        mvn_to_dataset(loc, asym)
    with pytest.raises(ValueError, match="negative variances"):
        mvn_to_dataset(loc, -cov)
    nan_loc = loc.clone()
    nan_loc[0, 0] = float("nan")
    with pytest.raises(ValueError, match="loc contains NaN"):
        mvn_to_dataset(nan_loc, cov)
    with pytest.raises(ValueError, match="time has length 3"):
        mvn_to_dataset(loc, cov, time=[0, 1, 2])
    with pytest.raises(ValueError, match="state_names"):
        mvn_to_dataset(loc, cov, state_names=["a", "a"])
    with pytest.raises(ValueError, match="dims"):
        mvn_to_dataset(loc, cov, dims=["env"])
    with pytest.raises(ValueError, match="cov is required"):
        mvn_to_dataset(loc)


# ----------------------------------------------------------------------------- forecast ensembles


def test_samples_to_dataset_and_summaries():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(50, 6, 3))
    time = pd.date_range("2022-01-01", periods=6, freq="D")
    ds = samples_to_dataset(torch.as_tensor(samples), time=time, series=["a", "b", "c"],
                            attrs={"units": "kW"})
    assert ds["y"].dims == ("sample", "time", "series")
    np.testing.assert_array_equal(ds["y"].values, samples)
    assert (ds.indexes["time"] == time).all() and list(ds["series"].values) == ["a", "b", "c"]
    assert ds["y"].attrs["units"] == "kW"
    out = add_summaries(ds, quantiles=(0.1, 0.5, 0.9))
    assert "y_mean" not in ds  # the input is not modified
    np.testing.assert_allclose(out["y_mean"].values, samples.mean(0), rtol=0, atol=1e-15)
    assert out["y_quantiles"].dims == ("quantile", "time", "series")
    np.testing.assert_allclose(
        out["y_quantiles"].values, np.quantile(samples, [0.1, 0.5, 0.9], axis=0), atol=1e-15
    )
    np.testing.assert_allclose(out["y_quantiles"].sel(quantile=0.5, series="b").values,
                               np.median(samples[:, :, 1], axis=0), atol=1e-15)
    uni = samples_to_dataset(samples[..., 0], name="level")
    assert uni["level"].dims == ("sample", "time")
    with pytest.raises(ValueError, match="samples must have shape"):
        samples_to_dataset(samples[0, 0])
    with pytest.raises(ValueError, match="series has length 2"):
        samples_to_dataset(samples, series=["a", "b"])
    bad = samples.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="samples contains NaN"):
        samples_to_dataset(bad)
    with pytest.raises(ValueError, match="var 'x'"):
        add_summaries(ds, var="x")


# ----------------------------------------------------------------------------- ArviZ

PRIOR_LOC, PRIOR_SCALE, NOISE = 1.0, 2.0, 0.5


def conjugate_model(y):
    mu = pyro.sample("mu", dist.Normal(PRIOR_LOC, PRIOR_SCALE))
    with pyro.plate("obs_plate", y.shape[0]):
        pyro.sample("y", dist.Normal(mu, NOISE), obs=y)


def _conjugate_posterior(y):
    precision = 1.0 / PRIOR_SCALE**2 + len(y) / NOISE**2
    mean = (PRIOR_LOC / PRIOR_SCALE**2 + float(y.sum()) / NOISE**2) / precision
    return mean, precision**-0.5


@pytest.fixture(scope="module")
def nuts_run():
    pyro.set_rng_seed(0)
    y = 3.0 + NOISE * torch.randn(20)
    # Chains run one after the other in this process (MCMC decides in its constructor from the
    # CPU count, and warns): no worker processes in the test suite.
    mp_cpu_count = pyro.infer.mcmc.api.mp.cpu_count
    pyro.infer.mcmc.api.mp.cpu_count = lambda: 1
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="num_chains=2 is more than available_cpu")
            mcmc = MCMC(NUTS(conjugate_model), num_samples=50, warmup_steps=100, num_chains=2,
                        disable_progbar=True)
    finally:
        pyro.infer.mcmc.api.mp.cpu_count = mp_cpu_count
    mcmc.run(y)
    return mcmc, y


def test_mcmc_to_inference_data_matches_conjugate_posterior(nuts_run):
    mcmc, y = nuts_run
    state = torch.get_rng_state()
    idata = to_inference_data(mcmc, coords={"obs": np.arange(20)}, dims={"y": ["obs"]})
    assert torch.equal(state, torch.get_rng_state())  # reading observed sites left the RNG alone
    assert isinstance(idata, az.InferenceData)
    post = idata.posterior
    assert post["mu"].dims == ("chain", "draw") and post["mu"].shape == (2, 50)
    np.testing.assert_array_equal(post["mu"].values,
                                  mcmc.get_samples(group_by_chain=True)["mu"].numpy())
    # observed data read from the model, with the given dims/coords
    assert idata.observed_data["y"].dims == ("obs",)
    np.testing.assert_array_equal(idata.observed_data["y"].values, y.numpy())
    assert idata.sample_stats["diverging"].shape == (2, 50)
    assert idata.posterior.attrs["inference_library"] == "pyro"
    # ArviZ works on it, and the posterior is the analytic conjugate one within MC error
    summary = az.summary(idata, var_names=["mu"])
    mean, sd = _conjugate_posterior(y)
    mcse = float(az.mcse(idata, var_names=["mu"])["mu"])
    assert abs(float(summary.loc["mu", "mean"]) - mean) < 4 * mcse + 1e-3
    assert float(summary.loc["mu", "sd"]) == pytest.approx(sd, rel=0.35)
    # flat (chain * draw) posterior predictive draws are split into the MCMC chains
    flat = Predictive(conjugate_model, mcmc.get_samples(), return_sites=["y"])(y)["y"]
    idata = to_inference_data(mcmc, posterior_predictive={"y": flat}, dims={"y": ["obs"]})
    assert idata.posterior_predictive["y"].dims == ("chain", "draw", "obs")
    np.testing.assert_array_equal(idata.posterior_predictive["y"].values[1], flat[50:].numpy())
    assert float(az.rhat(idata)["mu"]) < 1.2  # 2 x 50 draws: a working rhat, not a tight one


def test_dict_draws_from_svi_predictive():
    pyro.set_rng_seed(1)
    pyro.clear_param_store()
    y = 3.0 + NOISE * torch.randn(20)
    guide = AutoNormal(conjugate_model)
    draws = Predictive(conjugate_model, guide=guide, num_samples=40)(y)
    # Predictive's vectorising plate leaves a singleton dim on sites outside plates: (40, 1)
    post = {"mu": draws["mu"].squeeze(-1)}
    ppc = Predictive(conjugate_model, posterior_samples=post, return_sites=["y"])(y)
    idata = to_inference_data(
        post, posterior_predictive={"y": ppc["y"]}, observed_data={"y": y},
        sample_dims=("draw",), dims={"y": ["obs"]},
    )
    assert idata.posterior["mu"].shape == (1, 40)
    np.testing.assert_array_equal(idata.posterior["mu"].values[0], post["mu"].numpy())
    assert idata.posterior_predictive["y"].dims == ("chain", "draw", "obs")
    assert idata.observed_data["y"].dims == ("obs",)
    assert "mu" in az.summary(idata, kind="stats").index
    # (chain, draw) dicts are taken as they are
    two = to_inference_data({"mu": post["mu"].reshape(2, 20)})
    assert two.posterior["mu"].shape == (2, 20)
    # the arviz >= 1 branch returns a DataTree with the same groups
    original = arviz_impl._arviz_major
    arviz_impl._arviz_major = lambda: 1
    try:
        tree = to_inference_data(post, observed_data={"y": y}, sample_dims=("draw",))
    finally:
        arviz_impl._arviz_major = original
    assert isinstance(tree, xr.DataTree)
    assert set(tree.children) == {"posterior", "observed_data"}
    np.testing.assert_array_equal(tree["posterior"]["mu"].values[0], post["mu"].numpy())


def test_to_inference_data_rejects_bad_input():
    good = {"mu": np.zeros((2, 10)), "theta": np.zeros((2, 10, 3))}
    with pytest.raises(ValueError, match="sample_dims"):
        to_inference_data(good, sample_dims=("sample",))
    with pytest.raises(ValueError, match=r"dims\['theta'\]"):
        to_inference_data(good, dims={"theta": ["a", "b"]})
    with pytest.raises(ValueError, match="chain, draw"):
        to_inference_data({"mu": np.zeros((2, 10)), "nu": np.zeros((2, 9))})
    with pytest.raises(ValueError, match=r"posterior\['mu'\] contains NaN"):
        to_inference_data({"mu": np.full((2, 10), np.nan)})
    with pytest.raises(ValueError, match=r"coords\['theta_dim_0'\]"):
        to_inference_data(good, coords={"theta_dim_0": [0, 1]})
    with pytest.raises(ValueError, match="nothing to convert"):
        to_inference_data(None, observed_data={"y": np.zeros(3)})
    with pytest.raises(ValueError, match="posterior must be"):
        to_inference_data([1, 2, 3])
    with pytest.raises(ValueError, match="not been run"):
        to_inference_data(MCMC(NUTS(conjugate_model), num_samples=5, warmup_steps=5))


# ----------------------------------------------------------------------------- netCDF


def test_netcdf_attr_conversion():
    assert netcdf_attr(True) == 1 and netcdf_attr(np.bool_(False)) == 0
    assert netcdf_attr(None) == "None"
    assert netcdf_attr({"seed": 3, "opt": {"lr": 0.1}}) == '{"opt": {"lr": 0.1}, "seed": 3}'
    assert netcdf_attr(["a", "b"]) == ["a", "b"]
    np.testing.assert_array_equal(netcdf_attr((1, 2.5)), [1.0, 2.5])
    assert netcdf_attr(pd.Timestamp("2020-01-02 03:04")) == "2020-01-02T03:04:00"
    assert netcdf_attr([1, "a", None]) == '[1, "a", null]'


def test_write_netcdf_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    ds = samples_to_dataset(rng.normal(size=(10, 5, 2)).astype(np.float32),
                            time=pd.date_range("2020-01-01", periods=5, freq="D"),
                            series=["north", "south"], attrs={"units": "m", "scaled": False})
    ds.attrs = {"seed": 7, "config": {"lr": 0.01, "layers": [2, 3]}, "note": None, "ok": True}
    path = write_netcdf(ds, tmp_path / "nested" / "dir" / "forecast.nc")
    assert path.is_file()
    assert ds.attrs["config"] == {"lr": 0.01, "layers": [2, 3]}  # input untouched
    with xr.open_dataset(path) as back:
        back = back.load()
    np.testing.assert_array_equal(back["y"].values, ds["y"].values)
    assert back["y"].dtype == np.float32
    assert back["y"].dims == ("sample", "time", "series")
    assert (back.indexes["time"] == ds.indexes["time"]).all()
    assert list(back["series"].values) == ["north", "south"]
    assert back.attrs["seed"] == 7 and back.attrs["ok"] == 1 and back.attrs["note"] == "None"
    assert back.attrs["config"] == '{"layers": [2, 3], "lr": 0.01}'
    assert back["y"].attrs == {"units": "m", "scaled": 0}
    # Gaussian marginals with string state coordinates
    gen = torch.Generator().manual_seed(0)
    mvn = mvn_to_dataset(torch.randn(4, 2, generator=gen), _random_cov((4,), 2, gen),
                         state_names=["level", "trend"], attrs={"filter": "kalman"})
    with xr.open_dataset(write_netcdf(mvn, tmp_path / "mvn.nc")) as back:
        xr.testing.assert_identical(back.load(), mvn)


def test_write_netcdf_inference_data_and_tree(tmp_path):
    rng = np.random.default_rng(1)
    post = {"mu": rng.normal(size=(2, 15))}
    idata = to_inference_data(post, observed_data={"y": rng.normal(size=4)},
                              attrs={"seed": 3, "flags": {"a": True}})
    path = write_netcdf(idata, tmp_path / "a" / "idata.nc")
    back = az.from_netcdf(path)
    np.testing.assert_array_equal(back.posterior["mu"].values, post["mu"])
    assert back.posterior.attrs["flags"] == '{"a": true}'
    tree = xr.DataTree.from_dict({"posterior": idata.posterior, "observed_data":
                                  idata.observed_data})
    tpath = write_netcdf(tree, tmp_path / "b" / "tree.nc")
    with xr.open_datatree(tpath) as tback:
        np.testing.assert_array_equal(tback["posterior"]["mu"].values, post["mu"])
        assert tback["posterior"].attrs["flags"] == '{"a": true}'
    with pytest.raises(ValueError, match="obj must be"):
        write_netcdf({"a": 1}, tmp_path / "x.nc")


def test_trajectories_to_dataset_dims_coords_and_errors():
    from probdyn.io import trajectories_to_dataset

    ode = np.random.default_rng(0).normal(size=(3, 5, 2))
    ds = trajectories_to_dataset(ode, time=np.arange(5) * 0.5, channels=["theta", "omega"],
                                 attrs={"dt": 0.5})
    assert ds["state"].dims == ("trajectory", "time", "channel")
    assert list(ds["channel"].values) == ["theta", "omega"] and ds.attrs["dt"] == 0.5
    np.testing.assert_array_equal(ds["state"].values, ode)  # data are not altered
    field = np.zeros((2, 4, 1, 6, 8))
    ds = trajectories_to_dataset(field, time=range(4), channels=["w"],
                                 space={"x": np.linspace(0, 1, 8)})
    assert ds["state"].dims == ("trajectory", "time", "channel", "y", "x")
    assert ds["x"].values[-1] == 1.0
    assert trajectories_to_dataset(np.zeros((1, 2, 1, 7)), [0, 1], ["c"])["state"].dims[-1] == "x"
    with pytest.raises(ValueError, match="channels"):
        trajectories_to_dataset(ode, time=range(5), channels=["theta"])
    with pytest.raises(ValueError, match="states"):
        trajectories_to_dataset(np.full((1, 2, 1), np.nan), time=range(2), channels=["a"])
    with pytest.raises(ValueError, match="space"):
        trajectories_to_dataset(ode, time=range(5), channels=["a", "b"], space={"x": [0]})
