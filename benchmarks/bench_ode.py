"""Overhead of ``probdyn.dynamics.solve`` over calling ``torchdiffeq.odeint`` directly, measured
in one process (medians of repeats; machines are noisy).

    python benchmarks/bench_ode.py            # all cases, more repeats
    python benchmarks/bench_ode.py --quick    # fewer repeats, shorter horizons
    python benchmarks/bench_ode.py --json out.json

Cases: the damped pendulum (``DampedPendulum``, batch 1000, t in [0, 20) s at dt = 0.5) and a
32 x 32 FitzHugh-Nagumo field (``FitzHughNagumo``, batch 16, t in [0, 2.5] at dt = 0.1), each with
dopri5 (rtol 1e-6, atol 1e-8) and rk4 (step = the output spacing), float64. "solve" is the time
of the forward solve; "grad" of the solve plus ``backward()`` of the sum of the solution with
respect to the field's parameters and ``x0``. Both sides integrate the same field object with
the same method and tolerances; the baseline moves the time axis to where ``solve`` puts it
(``movedim``), so the outputs are identical. Times are per trajectory (the batch's time divided
by its size).

The ratio is ``solve`` / ``odeint``: 1 means no overhead; below 1 means ``solve`` is faster (it
reads the physical fields' ``PyroParam``\\ s once per solve instead of at every evaluation, see
``PhysicalField.frozen_parameters``). A second baseline, "odeint (frozen)", calls ``odeint``
inside that same ``frozen_parameters`` block, isolating the wrapper's own cost (input checks,
the tracking wrapper, the finiteness check of the output).

Runs with ``torch.set_num_threads(1)``: on a small, shared machine tiny tensor ops are much
faster single-threaded, and the comparison is between equal thread settings anyway.
"""

import argparse
import contextlib
import json
import platform
import time

import numpy as np
import torch
import torchdiffeq

from probdyn.dynamics import solve
from probdyn.physics import DampedPendulum, FitzHughNagumo


def median_time(fn, repeats, budget):
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < 3 or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), len(times)


def make_case(name, quick):
    gen = torch.Generator().manual_seed(0)
    if name == "pendulum":
        field = DampedPendulum(6.0, 0.2).double()
        batch = 1000
        x0 = (torch.rand(batch, 2, generator=gen, dtype=torch.float64) * 2 - 1) * 1.5
        n = 20 if quick else 40
        t = torch.arange(n, dtype=torch.float64) * 0.5
    else:
        field = FitzHughNagumo(grid_size=32).double()
        batch = 16
        x0 = torch.rand(batch, 2, 32, 32, generator=gen, dtype=torch.float64)
        n = 11 if quick else 26
        t = torch.arange(n, dtype=torch.float64) * 0.1
    return field, x0, t, batch


def run_case(name, method, quick):
    field, x0, t, batch = make_case(name, quick)
    kw = dict(method=method, rtol=1e-6, atol=1e-8)
    options = {"step_size": float(t[1] - t[0])} if method == "rk4" else {}
    n_state = len(x0.shape) - 1

    def frozen():
        if hasattr(field, "frozen_parameters"):
            return field.frozen_parameters()
        return contextlib.nullcontext()

    def via_solve(x):
        return solve(field, x, t, step_size=options.get("step_size"), **kw)

    def via_odeint(x):
        sol = torchdiffeq.odeint(field, x, t, options=options, **kw)
        return torch.movedim(sol, 0, x.dim() - n_state)

    def via_odeint_frozen(x):
        with frozen():
            return via_odeint(x)

    with torch.no_grad():  # same numbers, same field, same solver
        diff = float((via_solve(x0) - via_odeint(x0)).abs().max())
    repeats, budget = (5, 3.0) if quick else (15, 10.0)
    out = {"case": name, "method": method, "batch": batch, "num_times": len(t),
           "max_abs_diff": diff}
    fns = {"solve": via_solve, "odeint": via_odeint, "odeint_frozen": via_odeint_frozen}
    for mode in ("solve", "grad"):
        for label, fn in fns.items():
            if mode == "solve":
                def call(fn=fn):
                    with torch.no_grad():
                        fn(x0)
            else:
                def call(fn=fn):
                    field.zero_grad(set_to_none=True)
                    x = x0.clone().requires_grad_(True)
                    fn(x).sum().backward()
            sec, reps = median_time(call, repeats, budget)
            out[f"{mode}_{label}_ms_per_traj"] = 1e3 * sec / batch
            out[f"{mode}_{label}_repeats"] = reps
        out[f"{mode}_ratio"] = out[f"{mode}_solve_ms_per_traj"] / out[f"{mode}_odeint_ms_per_traj"]
        out[f"{mode}_ratio_frozen"] = (out[f"{mode}_solve_ms_per_traj"]
                                       / out[f"{mode}_odeint_frozen_ms_per_traj"])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter horizons")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    header = (f"{'case':10s} {'method':7s} {'mode':5s} {'solve ms':>10s} {'odeint ms':>10s} "
              f"{'frozen ms':>10s} {'ratio':>7s} {'ratio/fr':>8s}")
    print(f"ms per trajectory; ratio = solve / odeint (1 = no overhead); threads={args.threads}")
    print(header)
    for name in ("pendulum", "fhn32"):
        for method in ("dopri5", "rk4"):
            r = run_case(name, method, args.quick)
            results.append(r)
            for mode in ("solve", "grad"):
                print(f"{name:10s} {method:7s} {mode:5s} {r[f'{mode}_solve_ms_per_traj']:10.4f} "
                      f"{r[f'{mode}_odeint_ms_per_traj']:10.4f} "
                      f"{r[f'{mode}_odeint_frozen_ms_per_traj']:10.4f} "
                      f"{r[f'{mode}_ratio']:7.3f} {r[f'{mode}_ratio_frozen']:8.3f}", flush=True)
    if args.json:
        meta = {"torch": torch.__version__, "torchdiffeq": torchdiffeq.__version__,
                "threads": args.threads, "quick": args.quick, "python": platform.python_version(),
                "machine": platform.machine()}
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
