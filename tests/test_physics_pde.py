"""Conformance of every PDE model in probdyn.physics: the simulator's trajectory against
scipy's solve_ivp (DOP853, tight tolerance) on the flattened state of a tiny grid, shapes,
xarray output, parameter transforms, gradients and bad input."""

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from probdyn import physics
from probdyn.dynamics import VectorField

TIGHT = dict(rtol=1e-10, atol=1e-12, progress=False, store_dtype="float64")


def _ns_field(**kw):
    return physics.NavierStokesVorticity(
        1e-2, physics.navier_stokes_forcing(1, 8), grid_size=8, **kw)


# name -> (field for the first environment, short simulation, grid size)
CASES = {
    "wave": (lambda: physics.DampedWave(3.0, 0.5, 8, 1.0, "fourth_order"),
             lambda **kw: physics.simulate_damped_wave(
                 2, c=3.0, k=0.5, grid_size=8, horizon=2.0, dt_data=0.5,
                 sigma_range=(1.0, 3.0), **kw)),
    "fitzhugh_nagumo": (lambda: physics.FitzHughNagumo(grid_size=8),
                        lambda **kw: physics.simulate_fitzhugh_nagumo(
                            2, grid_size=8, t_start=0.0, horizon=1.0, dt_data=0.25, **kw)),
    "gray_scott": (lambda: physics.GrayScott(0.037, 0.060, grid_size=10),
                   lambda **kw: physics.simulate_gray_scott(
                       2, environments=[(0.037, 0.060)], grid_size=10, horizon=40.0,
                       dt_data=10.0, **kw)),
    "navier_stokes": (_ns_field,
                      lambda **kw: physics.simulate_navier_stokes(
                          2, environments=[1], nu=1e-2, grid_size=8, horizon=2.0,
                          dt_data=0.5, warmup=0.0, **kw)),
    "shallow_water": (lambda: physics.ShallowWater(grid_size=8, tau0=1.5),
                      lambda **kw: physics.simulate_shallow_water(
                          2, grid_size=8, tau0=1.5, days=2.0, dt_data=43200.0, h_std=20.0,
                          **kw)),
    "advection_diffusion": (
        lambda: physics.AdvectionDiffusion(0.2, torch.tensor([0.7, -0.4]), 8),
        lambda **kw: physics.simulate_advection_diffusion(
            2, diffusivity=0.2, velocity=torch.tensor([0.7, -0.4]), grid_size=8,
            horizon=3.0, dt_data=0.75, **kw)),
}


def _states(ds):
    s = ds.state
    return (s.isel(env=0) if "env" in s.dims else s).values


@pytest.mark.parametrize("name", CASES)
def test_simulation_matches_solve_ivp(name):
    make_field, simulate = CASES[name]
    ds = simulate(**TIGHT)
    field = make_field().double()
    states = _states(ds)
    times = ds.time.values
    shape = field.state_shape

    def rhs(t, y):
        x = torch.from_numpy(y).reshape(shape)
        with torch.no_grad():
            return field(torch.tensor(t), x).reshape(-1).numpy()

    scale = np.abs(states).max()
    for b in range(states.shape[0]):
        sol = solve_ivp(rhs, (times[0], times[-1]), states[b, 0].ravel(), method="DOP853",
                        t_eval=times, rtol=1e-12, atol=1e-12 * scale)
        ref = sol.y.T.reshape(states[b].shape)
        err = np.abs(ref - states[b]).max() / scale
        assert err < 1e-8, (name, err)  # measured <= 1.5e-10


@pytest.mark.parametrize("name", CASES)
def test_field_interface(name):
    make_field, _ = CASES[name]
    field = make_field()
    assert isinstance(field, VectorField)
    C, ny, nx = field.state_shape
    assert C == len(field.channels)
    for dtype in (torch.float32, torch.float64):
        x = 0.1 + 0.05 * torch.rand(3, 2, C, ny, nx, dtype=dtype)
        out = field.to(dtype)(torch.tensor(0.0), x)
        assert out.shape == x.shape and out.dtype == dtype and torch.isfinite(out).all()
        # batched = looped
        single = field(torch.tensor(0.0), x[1, 0])
        assert torch.allclose(out[1, 0], single, rtol=1e-4 if dtype == torch.float32 else 1e-10,
                              atol=1e-6 if dtype == torch.float32 else 1e-12)
    with pytest.raises(ValueError, match="x must have shape"):
        field(torch.tensor(0.0), torch.zeros(C, ny + 1, nx))


@pytest.mark.parametrize("name", CASES)
def test_parameters_positive_and_differentiable(name):
    field = CASES[name][0]().double()
    params = field.physical_parameters()
    assert params and all(v >= 0 for v in params.values())
    C, ny, nx = field.state_shape
    x = 0.2 + 0.1 * torch.rand(1, C, ny, nx, dtype=torch.float64)
    x.requires_grad_(True)
    field(torch.tensor(0.0), x).pow(2).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    grads = {n: getattr(field, n + "_unconstrained").grad for n in params if params[n] > 0}
    assert all(g is not None and torch.isfinite(g) for g in grads.values())
    assert any(g.abs() > 0 for g in grads.values())
    # the transform: any raw value gives a positive parameter
    name0 = next(iter(params))
    with torch.no_grad():
        getattr(field, name0 + "_unconstrained").fill_(-30.0)
    assert 0 < float(getattr(field, name0).detach()) < 1e-12


@pytest.mark.parametrize("name", CASES)
def test_dataset_layout(name):
    ds = CASES[name][1](progress=False)
    dims = ("trajectory", "time", "channel", "y", "x")
    if name in ("gray_scott", "navier_stokes"):
        dims = ("env",) + dims
    assert ds.state.dims == dims
    assert ds.state.dtype == np.float32
    assert ds.attrs["seed"] == 0 and "solver" in ds.attrs
    assert np.all(np.diff(ds.time.values) > 0)
    assert np.isfinite(ds.state.values).all()
    again = CASES[name][1](progress=False)
    np.testing.assert_array_equal(ds.state.values, again.state.values)  # seeded
    other = CASES[name][1](progress=False, seed=1)
    assert not np.array_equal(ds.state.values, other.state.values)


@pytest.mark.parametrize("name", CASES)
def test_nan_initial_state_rejected(name):
    field = CASES[name][0]()
    x0 = torch.zeros(2, *field.state_shape, dtype=torch.float64)
    x0[1, 0, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="initial_state contains NaN"):
        CASES[name][1](progress=False, initial_state=x0)
    with pytest.raises(ValueError, match="initial_state must"):
        CASES[name][1](progress=False, initial_state=torch.zeros(2, 9, 4, 4))


def test_blow_up_is_an_error_not_nan():
    with pytest.raises(RuntimeError, match="NaN"):
        physics.simulate_fitzhugh_nagumo(1, a=50.0, grid_size=8, method="euler",
                                         step_size=0.05, progress=False)


def test_netcdf_round_trip(tmp_path):
    from probdyn.io import write_netcdf

    ds = CASES["gray_scott"][1](progress=False)
    path = tmp_path / "gs.nc"
    write_netcdf(ds, path)
    import xarray as xr

    with xr.open_dataset(path) as back:
        np.testing.assert_array_equal(back.state.values, ds.state.values)
        np.testing.assert_allclose(back.F.values, ds.F.values)


@pytest.mark.parametrize("make,match", [
    (lambda: physics.DampedWave(c=-1.0), "c must be positive"),
    (lambda: physics.DampedWave(k=-0.1), "k must be non-negative"),
    (lambda: physics.DampedWave(dx=0.0), "dx must be positive"),
    (lambda: physics.FitzHughNagumo(a=float("nan")), "a must be positive"),
    (lambda: physics.FitzHughNagumo(b=0.0), "b must be positive"),
    (lambda: physics.FitzHughNagumo(grid_size=2), "grid_size"),
    (lambda: physics.FitzHughNagumo(grid_size=(8, 8, 8)), "grid_size"),
    (lambda: physics.GrayScott(F=-0.03), "F must be positive"),
    (lambda: physics.GrayScott(Du=0.0), "Du must be positive"),
    (lambda: physics.GrayScott(stencil="seven"), "stencil"),
    (lambda: physics.NavierStokesVorticity(nu=-1e-3), "nu must be positive"),
    (lambda: physics.NavierStokesVorticity(grid_size=(16, 32)), "square"),
    (lambda: physics.NavierStokesVorticity(forcing=torch.zeros(16, 16)), "forcing"),
    (lambda: physics.navier_stokes_forcing(4), "environment"),
    (lambda: physics.ShallowWater(H=-500.0), "H must be positive"),
    (lambda: physics.ShallowWater(gamma=-1.0), "gamma must be non-negative"),
    (lambda: physics.AdvectionDiffusion(-0.1), "D must be non-negative"),
    (lambda: physics.AdvectionDiffusion(0.1, torch.zeros(3)), "velocity"),
    (lambda: physics.AdvectionDiffusion(0.1, torch.zeros(2, 8, 8), grid_size=16), "velocity"),
    (lambda: physics.AdvectionDiffusion(scheme="upwind"), "scheme"),
    (lambda: physics.simulate_fitzhugh_nagumo(0), "n_trajectories"),
    (lambda: physics.simulate_fitzhugh_nagumo(2, grid_size=8, dt_data=0.7), "multiple"),
    (lambda: physics.simulate_fitzhugh_nagumo(2, grid_size=8, method="rk4"), "step_size"),
    (lambda: physics.simulate_fitzhugh_nagumo(2, grid_size=8, method="magic"), "method"),
    (lambda: physics.simulate_fitzhugh_nagumo(2, grid_size=8, seed=1.5), "seed"),
    (lambda: physics.simulate_gray_scott(1, environments=[(0.03, -0.06)]), "environments k"),
    (lambda: physics.simulate_damped_wave(1, grid_size=8, initial_condition="x"), "variant"),
])
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_pde_parameter_takes_a_prior():
    """PDE models are PhysicalFields: a PyroSample replaces a parameter, and one solve draws it
    once, as a named sample site of the model."""
    import pyro
    import pyro.distributions as dist
    from pyro.nn import PyroSample

    from probdyn.dynamics import solve

    field = physics.FitzHughNagumo(grid_size=8).double()
    field.a = PyroSample(dist.LogNormal(torch.tensor(-7.0).double(), 0.1))
    x0 = 0.1 * torch.randn(1, 2, 8, 8, dtype=torch.float64)
    t = torch.linspace(0.0, 0.1, 3, dtype=torch.float64)
    run = lambda: solve(field, x0, t, method="rk4", step_size=0.05)
    trace = pyro.poutine.trace(run).get_trace()
    assert "a" in trace.nodes and trace.nodes["a"]["type"] == "sample"
    a = trace.nodes["a"]["value"]
    assert 0 < float(a) < 0.01
    with pyro.poutine.condition(data={"a": a}):
        again = run()
    torch.testing.assert_close(again, trace.nodes["_RETURN"]["value"])
