"""The shooting-spiral reproduction: a tiny run by default, the quick run as slow."""

import numpy as np
import pytest
import torch

from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce._updown import VARIANTS, make_updown
from probdyn.reproduce.shooting_spiral import (
    BOX,
    SNIPPET,
    long_range,
    run_spiral,
    snippet_starts,
    snippets,
    spiral_data,
)

# the paper's Table 2 (K = 15, d = 2, alpha = 16)
COUNTS = {"static direct": 1282, "static particles": 1116, "dynamic particles": 1116,
          "dynamic direct": 6026}


def _by(result):
    return {(r["method"], r["metric"]): r["measured"] for r in result.rows}


def test_snippets_are_drawn_along_the_trace():
    t, traj = spiral_data()
    starts = snippet_starts(traj, 20000, torch.Generator().manual_seed(0))
    assert starts.min() >= 0 and starts.max() <= len(traj) - 1 - SNIPPET
    seg = (traj[1:] - traj[:-1]).norm(dim=-1)[: len(traj) - SNIPPET].numpy()
    freq = np.bincount(starts.numpy(), minlength=len(seg)) / 20000
    # oracle: arc-length weights (the spiral slows down: early starts are far more likely)
    assert np.abs(freq - seg / seg.sum()).max() < 0.01
    assert freq[:20].sum() > 3 * freq[-20:].sum()
    y = snippets(traj, starts[:3])
    assert y.shape == (3, SNIPPET + 1, 2) and torch.equal(y[:, 0], traj[starts[:3]])


def test_long_range_pastes_snippet_solutions():
    t, traj = spiral_data()
    dt = float(t[1] - t[0])
    t_snip = dt * torch.arange(SNIPPET + 1, dtype=torch.float32)
    f = make_updown("dynamic particles", 2, 2, 3, float(t_snip[-1]), seed=0)
    with torch.no_grad():
        pasted = long_range(f, traj, t_snip, dt)
        # oracle: the same pasting written out for the first two pieces
        a = f.flow(traj[:1], t_snip, method="rk4", step_size=dt)[0]
        b = f.flow(a[-1:], t_snip, method="rk4", step_size=dt)[0]
    assert pasted.shape == traj.shape
    assert torch.allclose(pasted[:2 * SNIPPET + 1], torch.cat([a, b[1:]]), atol=1e-6)


def test_a_diverging_paste_is_stopped_and_clipped():
    t, traj = spiral_data()
    dt = float(t[1] - t[0])
    t_snip = dt * torch.arange(SNIPPET + 1, dtype=torch.float32)
    f = make_updown("static direct", 2, 2, 0, float(t_snip[-1]), seed=0)
    with torch.no_grad():
        f.theta1.zero_()
        f.b1.fill_(100.0)  # x' = 100: 25 per snippet, out of the box after the first
        pasted = long_range(f, traj, t_snip, dt)
    assert pasted.shape == traj.shape and torch.isfinite(pasted).all()
    assert float(pasted.abs().max()) == BOX
    assert torch.allclose(pasted[1:SNIPPET + 1, 0], (traj[0, 0] + 100 * t_snip[1:]).clamp(max=BOX))


def test_tiny_run_has_every_cell_and_the_paper_parameter_counts():
    get_experiment("shooting-spiral")
    result = run_spiral((16,), 1, 2, num_eval=20, progress=False)
    rows = _by(result)
    for variant in VARIANTS:
        label = f"{variant} (alpha=16)"
        assert rows[(label, "parameters")] == COUNTS[variant]
        for m in ("short_range_mse", "long_range_mse", "long_range_mse_median",
                  "long_range_diverged", "log2_complexity"):
            assert np.isfinite(rows[(label, m)])
    assert result.datasets["shooting_spiral"]["long_range_mse"].shape == (4, 1, 1)


@pytest.mark.slow
def test_quick_run_learns_the_spiral(tmp_path):
    rows = _by(run_experiment("shooting-spiral", quick=True, seed=0, out=tmp_path))
    t, traj = spiral_data()
    y = snippets(traj, torch.arange(len(traj) - SNIPPET))
    identity = float(((y - y[:, :1]) ** 2).mean())  # predicting "no motion": MSE 0.15
    dyn = rows[("dynamic particles (alpha=16)", "short_range_mse")]  # measured 2.4e-3
    assert dyn < 0.05 * identity
    assert dyn < rows[("static particles (alpha=16)", "short_range_mse")]
