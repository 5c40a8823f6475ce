"""The Nile local-level reproduction against Durbin & Koopman's published estimates."""

import math

import pytest

pytest.importorskip("probdyn.data")


def _run(quick, tmp_path):
    import probdyn.reproduce.nile  # noqa: F401  (registers the experiment)
    from probdyn.reproduce import run_experiment

    try:
        return run_experiment("nile-local-level", quick=quick, seed=0, out=tmp_path)
    except FileNotFoundError as e:
        pytest.skip(f"Nile data not available: {e}")


def _rows(result, method):
    return {r["metric"]: r for r in result.rows if r["method"] == method}


def test_nile_quick_reproduces_published_estimates(tmp_path):
    result = _run(True, tmp_path)
    rows = _rows(result, "probdyn exact diffuse")
    for metric in ("sigma2_eps", "sigma2_eta"):
        r = rows[metric]
        assert r["measured"] == pytest.approx(r["published"], rel=5e-4)  # 3-4 digits
    assert rows["log_likelihood"]["published"] is None
    assert math.isfinite(rows["log_likelihood"]["measured"])
    assert result.settings["quick"] is True and result.settings["exact_fit"]["converged"]
    ds = result.datasets["nile_local_level"]
    assert ds.sizes["time"] == 100 and set(ds.data_vars) == {"volume", "level", "level_sd"}
    assert float(ds["level_sd"].min()) > 0
    # the smoothed level is a smoothed version of the data: residual sd near sqrt(sigma2_eps)
    resid = (ds["volume"] - ds["level"]).std().item()
    assert 0.5 * math.sqrt(15099) < resid < 1.5 * math.sqrt(15099)


@pytest.mark.slow
def test_nile_full_compares_approximate_diffuse_and_statsmodels(tmp_path):
    pytest.importorskip("statsmodels")
    result = _run(False, tmp_path)
    exact = _rows(result, "probdyn exact diffuse")
    approx = _rows(result, "probdyn kappa=1e6")
    ref = _rows(result, "statsmodels exact diffuse")
    for metric in ("sigma2_eps", "sigma2_eta", "log_likelihood"):
        assert exact[metric]["measured"] == pytest.approx(ref[metric]["measured"], rel=1e-5)
    # a N(0, 1e6) initial level is not diffuse enough for a level near 1000: 3rd digit moves
    assert abs(approx["sigma2_eta"]["measured"] / 1469.1 - 1) > 2e-3
