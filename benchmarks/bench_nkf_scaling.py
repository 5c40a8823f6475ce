"""Scaling of the local-global NKF forecaster (probdyn.models.LocalGlobalNKF).

    python benchmarks/bench_nkf_scaling.py            # the grid below
    python benchmarks/bench_nkf_scaling.py --quick    # small grid, no exchange-rate timings
    python benchmarks/bench_nkf_scaling.py --json out.json

1. Exact log-likelihood time (forward, no gradient) of one window of T steps of N series,
   N in {8, 128, 1024}, T in {100, 1000}: RealNVP flow (9 blocks, 2 x 16), d = 8 states per
   series (level + day of week), LSTM 2 x 40, float32, one torch thread. The fitted exponents
   a, b of time ~ N^a T^b (least squares in log-log) should be about 1 and 1 (spec §4.1:
   O(N (d^2 + k)) per step).
2. One training epoch on exchange_rate_nips with the full settings (50 batches of 32 windows
   of 58 steps, forward + backward + Adam) and one forecast (100 paths x 30 steps x 8 series).
"""

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kalman import median_time  # noqa: E402

from probdyn.models import LocalGlobalNKF  # noqa: E402


def likelihood_time(N, T, seed=0):
    torch.manual_seed(seed)
    model = LocalGlobalNKF(N, freq="B", flow="realnvp", context_length=min(28, T)).eval()
    time = pd.bdate_range("2000-01-03", periods=T)
    rng = np.random.default_rng(seed)
    y = 1.0 + np.cumsum(0.01 * rng.standard_normal((T, N)), axis=0)
    inputs = model.prepare(y, time)
    with torch.no_grad():
        return median_time(lambda: model.window_log_prob(inputs.y[None], inputs.features[None],
                                                         inputs.seasons[None]))


def exchange_timings():
    from probdyn.data import load

    ds = load("exchange_rate_nips")
    y = ds["rate"]
    train = y.isel(time=slice(0, ds.attrs["train_length"]))
    out = {}
    for flow in ("realnvp", "identity", "local"):
        model = LocalGlobalNKF(8, flow=flow)
        fit = model.fit(train, epochs=1, batches_per_epoch=50, batch_size=32, lr=2e-4,
                        progress=False)
        out[f"epoch_seconds_{flow}"] = fit.seconds
    out["forecast_seconds"] = median_time(
        lambda: model.forecast(train, 30, num_samples=100, seed=0))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    Ns, Ts = ((8, 64), (50, 200)) if args.quick else ((8, 128, 1024), (100, 1000))
    rows = [{"N": N, "T": T, "seconds": likelihood_time(N, T)}
            for N, T in itertools.product(Ns, Ts)]
    X = np.array([[1.0, np.log(r["N"]), np.log(r["T"])] for r in rows])
    coef = np.linalg.lstsq(X, np.log([r["seconds"] for r in rows]), rcond=None)[0]
    result = {"likelihood": rows, "exponent_N": float(coef[1]), "exponent_T": float(coef[2])}
    print(f"{'N':>5} {'T':>5} {'seconds':>9}   (exact log-likelihood, one window)")
    for r in rows:
        print(f"{r['N']:>5} {r['T']:>5} {r['seconds']:>9.4f}")
    print(f"time ~ N^{coef[1]:.2f} T^{coef[2]:.2f}")
    if not args.quick:
        result.update(exchange_timings())
        for k, v in result.items():
            if k.endswith("seconds") or "_seconds_" in k:
                print(f"{k}: {v:.3f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
