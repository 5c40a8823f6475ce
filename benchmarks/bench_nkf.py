"""Cost of the flow in the Normalizing Kalman Filter: NKF log-likelihood time as a ratio to
the linear-Gaussian model it wraps (same ssm, same data), measured in one process.

    python benchmarks/bench_nkf.py            # the grid below
    python benchmarks/bench_nkf.py --quick    # one small configuration
    python benchmarks/bench_nkf.py --json out.json

Grid: N in {8, 32} series with one level state each plus a shared factor (d = N + 1),
T in {1000, 6071} (6071 = the exchange_rate_nips training length), float64; flows: RealNVP in
the paper's configuration (9 blocks, 2 x 16), an element-wise spline, the identity.
"forward" = log_prob; "fwd+bwd" = log_prob(...).backward() w.r.t. the ssm and flow
parameters. A ratio of 1.3 means the NKF takes 30 % longer than the plain Kalman filter.
"""

import argparse
import itertools
import json

import torch
from bench_kalman import median_time

from probdyn.distributions import LinearGaussianSSM, NormalizingKalmanFilter
from probdyn.flows import ElementwiseSpline, IdentityFlow, RealNVP

FLOWS = {"realnvp": lambda n: RealNVP(n), "spline": lambda n: ElementwiseSpline(n),
         "identity": lambda n: IdentityFlow(n)}


def make_ssm(N, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    d = N + 1
    H = torch.cat([torch.eye(N, dtype=torch.float64),
                   torch.randn(N, 1, generator=g, dtype=torch.float64)], 1).requires_grad_()
    q = torch.full((d,), -3.0, dtype=torch.float64, requires_grad=True)
    r = torch.full((N,), -1.0, dtype=torch.float64, requires_grad=True)

    def build():
        return LinearGaussianSSM(torch.zeros(d, dtype=torch.float64),
                                 torch.eye(d, dtype=torch.float64),
                                 torch.eye(d, dtype=torch.float64), torch.diag(q.exp()), H,
                                 torch.diag(r.exp()), duration=T)

    return build


def run(N, T, flow_name):
    build = make_ssm(N, T)
    flow = FLOWS[flow_name](N).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
        y = NormalizingKalmanFilter(build(), flow).sample()
    lgm = lambda: build().log_prob(y)
    nkf = lambda: NormalizingKalmanFilter(build(), flow).log_prob(y)
    out = {"N": N, "T": T, "flow": flow_name}
    with torch.no_grad():
        out["forward"] = median_time(nkf) / median_time(lgm)
    out["fwd+bwd"] = median_time(lambda: nkf().backward()) / median_time(lambda: lgm().backward())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    grid = [(8, 1000)] if args.quick else list(itertools.product((8, 32), (1000, 6071)))
    rows = [run(N, T, f) for (N, T) in grid for f in FLOWS]
    print(f"{'N':>4} {'T':>6} {'flow':>9} {'forward':>8} {'fwd+bwd':>8}   (NKF time / LGM time)")
    for r in rows:
        print(f"{r['N']:>4} {r['T']:>6} {r['flow']:>9} {r['forward']:>8.2f} {r['fwd+bwd']:>8.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
