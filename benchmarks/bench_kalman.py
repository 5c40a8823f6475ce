"""Log-likelihood speed of probdyn's Kalman kernels as ratios to Pyro's GaussianHMM and to
statsmodels, measured in one process (medians of repeats; machines are noisy).

    python benchmarks/bench_kalman.py            # the full grid of issue #2
    python benchmarks/bench_kalman.py --quick    # a few configurations
    python benchmarks/bench_kalman.py --json out.json

Grid: d in {4, 32}, N in {1, 8, 128}, T in {100, 1000, 10000}, batch in {1, 64}; float64;
time-invariant parameters shared by the batch (series under a ``pyro.plate``), diagonal R.
"forward" = log_prob; "fwd+bwd" = log_prob(...).sum().backward() w.r.t. all parameters.
A ratio > 1 means probdyn is faster. Configurations whose Pyro or statsmodels run would take
more than ~4 GB or too long are marked "-". Memory of forward+backward is the total size of the
tensors autograd saves for the backward pass, reported per time step.
"""

import argparse
import itertools
import json
import time

import numpy as np
import torch

from probdyn.distributions import LinearGaussianSSM


def make_model(d, N, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    F = 0.9 * torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0]
    A = torch.randn(d, d, generator=g, dtype=torch.float64)
    Q = 0.1 * A @ A.T / d + 0.05 * torch.eye(d, dtype=torch.float64)
    H = torch.randn(N, d, generator=g, dtype=torch.float64) / d**0.5
    R = torch.diag(0.5 + torch.rand(N, generator=g, dtype=torch.float64))
    return torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64), F, Q, H, R


def median_time(fn, budget=3.0, max_repeats=5):
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def saved_bytes(fn):
    """Bytes of tensors autograd keeps for backward while running ``fn``."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return total, out


def statsmodels_loglike(y, m0, P0, F, Q, H, R):
    from statsmodels.tsa.statespace.kalman_filter import KalmanFilter

    d, N = m0.shape[0], H.shape[0]
    filters = []
    for series in y.numpy():
        kf = KalmanFilter(k_endog=N, k_states=d, k_posdef=d)
        kf.bind(np.ascontiguousarray(series))
        kf["design"], kf["obs_cov"] = H.numpy(), R.numpy()
        kf["transition"], kf["state_cov"], kf["selection"] = F.numpy(), Q.numpy(), np.eye(d)
        kf.initialize_known(m0.numpy(), P0.numpy())
        filters.append(kf)
    return lambda: [kf.loglike() for kf in filters]


METHODS = {  # name -> LinearGaussianSSM kernel options
    "auto": dict(parallel=True, steady_state=True),  # the default
    "par": dict(parallel=True, steady_state=False),
    "seq": dict(parallel=False, steady_state=False),
}


def bench_one(d, N, T, B, with_sequential=True):
    m0, P0, F, Q, H, R = make_model(d, N, T)
    model = LinearGaussianSSM(m0, P0, F, Q, H, R, duration=T)
    y = model.sample((B,))
    row = dict(d=d, N=N, T=T, batch=B)
    params = [p.clone().requires_grad_() for p in (m0, P0, F, Q, H, R)]

    for name, options in METHODS.items():
        if name == "seq" and not with_sequential:
            continue

        def fwd(options=options):
            with torch.no_grad():
                LinearGaussianSSM(m0, P0, F, Q, H, R, duration=T, **options).log_prob(y)

        def fwd_bwd(options=options):
            LinearGaussianSSM(*params, duration=T, **options).log_prob(y).sum().backward()

        row[f"{name}_fwd"] = median_time(fwd)
        row[f"{name}_fwdbwd"] = median_time(fwd_bwd)
    for name in ("auto", "par"):
        nbytes, _ = saved_bytes(
            lambda name=name: LinearGaussianSSM(*params, duration=T, **METHODS[name])
            .log_prob(y).sum())
        row[f"{name}_saved_bytes_per_step"] = nbytes / T
    # Pyro's GaussianHMM keeps (batch, T, 2d x 2d) Gaussians: skip where that exceeds ~4 GB
    if B * T * (2 * d) ** 2 * 8 * 8 < 4e9 and B * T * N * N * 8 * 4 < 4e9:
        hmm = model.to_gaussian_hmm()
        hmm_params = [p.detach().clone().requires_grad_() for p in (m0, P0, F, Q, H, R)]

        def pyro_fwd():
            with torch.no_grad():
                hmm.log_prob(y)

        def pyro_fwd_bwd():
            LinearGaussianSSM(*hmm_params, duration=T).to_gaussian_hmm().log_prob(y).sum() \
                .backward()

        row["pyro_fwd"] = median_time(pyro_fwd)
        row["pyro_fwdbwd"] = median_time(pyro_fwd_bwd)
    if B * T * N * d * d < 3e8:
        row["statsmodels_fwd"] = median_time(statsmodels_loglike(y, m0, P0, F, Q, H, R))
    for ours in ("auto", "par"):
        for ref in ("pyro", "statsmodels"):
            for kind in ("fwd", "fwdbwd"):
                if f"{ref}_{kind}" in row:
                    row[f"ratio_{ref}_{kind}_{ours}"] = row[f"{ref}_{kind}"] / row[f"{ours}_{kind}"]
    return row


def fmt(x, scale=1e3):
    return "-" if x is None else f"{x * scale:8.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="write the rows as JSON to this path")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        grid = [(4, 1, 1000, 64), (4, 1, 10000, 1), (4, 8, 1000, 64), (32, 8, 1000, 64)]
    else:
        grid = [(d, N, T, B) for d, N, T, B in itertools.product(
            (4, 32), (1, 8, 128), (100, 1000, 10000), (1, 64))]
    cols = ["auto_fwd", "auto_fwdbwd", "par_fwd", "par_fwdbwd", "seq_fwd", "seq_fwdbwd",
            "pyro_fwd", "pyro_fwdbwd", "statsmodels_fwd"]
    ratios = ["ratio_pyro_fwd_auto", "ratio_pyro_fwdbwd_auto", "ratio_pyro_fwd_par",
              "ratio_pyro_fwdbwd_par", "ratio_statsmodels_fwd_auto"]
    print("times in ms (medians); x... = reference time / probdyn time (> 1: probdyn faster)")
    print("auto = default kernels (steady-state gain where it applies, else parallel scan); "
          "par = parallel scan; seq = sequential; f+b = forward+backward")
    names = ["aut fwd", "aut f+b", "par fwd", "par f+b", "seq fwd", "seq f+b", "pyr fwd",
             "pyr f+b", "sm fwd", "xPyr f", "xPyr fb", "xPyr f/p", "xPyr fb/p", "xSM", "KB/stp"]
    print(f"{'d':>3} {'N':>4} {'T':>6} {'B':>3} | " + " ".join(f"{n:>8}" for n in names))
    rows = []
    for d, N, T, B in grid:
        r = bench_one(d, N, T, B, with_sequential=T * B <= 64_000 or args.quick)
        rows.append(r)
        times = " ".join(fmt(r.get(c)) for c in cols)
        rat = " ".join("       -" if r.get(c) is None else f"{r[c]:8.2f}" for c in ratios)
        kb = r["auto_saved_bytes_per_step"] / 1e3
        print(f"{d:>3} {N:>4} {T:>6} {B:>3} | {times} {rat} {kb:8.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": torch.get_num_threads(), "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
