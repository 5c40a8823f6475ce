"""Scores and result tables shared by the LEADS reproductions (LV, GS, NS)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..infer import trajectory_mse_per_env


def leads_scores(field, y_train, y_test, t, method: str = "rk4") -> dict:
    """Train MSE, and test MSE mean and std over test batches of one trajectory per
    environment (the official code's metric: free rollouts, t = 0 included)."""
    per_batch = [float(trajectory_mse_per_env(field, y_test[:, j:j + 1], t, method).mean())
                 for j in range(y_test.shape[1])]
    return {"train": float(trajectory_mse_per_env(field, y_train, t, method).mean()),
            "test": float(np.mean(per_batch)), "test_std": float(np.std(per_batch))}


def leads_tables(scores: dict, seconds: dict, published: dict, name: str, attrs: dict):
    """``ExperimentResult`` rows (mean over seeds, next to ``published`` ``(train, test,
    test std)``) and the per-seed dataset ``name`` of ``scores[method] = [leads_scores]``."""
    rows = []
    for method, runs in scores.items():
        pub = published.get(method, (None, None, None))
        for metric, key, col in (("mse_train", "train", 0), ("mse_test", "test", 1),
                                 ("mse_test_std", "test_std", 2)):
            rows.append({"method": method, "metric": metric,
                         "measured": float(np.mean([r[key] for r in runs])),
                         "published": pub[col]})
        rows.append({"method": method, "metric": "mse_test_seed_sd",
                     "measured": float(np.std([r["test"] for r in runs])), "published": None})
    names = list(scores)
    seeds = len(next(iter(scores.values())))
    ds = xr.Dataset(
        {"mse_train": (("method", "seed"), [[r["train"] for r in scores[m]] for m in names]),
         "mse_test": (("method", "seed"), [[r["test"] for r in scores[m]] for m in names]),
         "train_seconds": (("method", "seed"), [seconds[m] for m in names])},
        coords={"method": names, "seed": np.arange(seeds)}, attrs=attrs)
    return rows, {name: ds}
