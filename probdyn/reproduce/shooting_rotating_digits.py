"""Rotating digits with an UpDown latent ODE (Vialard et al. 2020, §5 "rotating MNIST", spec E4).

A sequence is one image of the digit 3 rotated through 16 angles ``2 pi k / 16``
(:func:`probdyn.data.rotating_digits`); the angle index is the time, ``t_k = k / 15`` on
``[0, 1]`` (the paper does not state T; on ``[0, 1]`` the integrated penalty ``int R dt`` equals
the Hamiltonian ``H = R(theta(0))``, the reference code's norm penalty). A convolutional encoder
maps the first frame to a 20-D latent state, the UpDown model (alpha = 10, K = 100 particles,
ReLU) carries it to the 16 times, and a convolutional decoder maps every latent state back to an
image. Training follows the paper: each sequence drops 4 random frames (redrawn every batch), one
fixed angle (index 3, 67.5 degrees, as in the reference code's command) is never seen in
training, the loss is ``100 MSE + 0.1 int_0^1 R dt`` with the penalty weights
``(1, 1, 1, 1, 10)``, Adam lr 1e-3 with ``CosineAnnealingLR`` over the epochs, batch 25; RK4
with the frame spacing as step; initial particle momenta ``N(0, 0.01^2)``. Reported, per
UpDown variant: the per-pixel MSE at the left-out angle on held-out images (20 % of the
sequences, never trained on), the MSE over all 16 angles of those images, and the paper's
parameter count of the latent dynamics; next to two baselines that use no model: the mean
training frame at the left-out angle, and the unrotated first frame.

Data: by default scikit-learn's bundled 8 x 8 digits (183 threes, padded to 10 x 10 and
upsampled to 16 x 16), not MNIST: no download, so it runs anywhere. Pass ``source=`` a folder
with the MNIST IDX training files for 28 x 28 digits (ODE2VAE's rotating-MNIST set itself is
another preparation of the MNIST threes: its own split and sizes).

Reference numbers (spec §1.8, E4), all on 28 x 28 MNIST and therefore **not comparable in
absolute terms** with the 16 x 16 default (other images, other pixel statistics); they are in
the settings (``references``), and the rows carry them as ``published`` only for MNIST sources:

- the paper's own Fig. 4 table is not in the extracted text; its claim: every UpDown variant
  "substantially lowers" the MSE of the literature and the variants are comparable;
- a third-party re-tabulation (unverified): GPPVAE-DIS 0.0309, GPPVAE-JOINT 0.0288, ODE2VAE
  0.0194, ODE2VAE-KL 0.0184, "Vialard et al. (2020)" 0.0122 +- 0.0064;
- the reference code's re-run (norm weight 0.05, lr 5e-3, dopri5; "differs slightly from
  Fig. 4"): dynamic with particles 0.0112, static direct 0.0126.

Notes
-----
The MSE weight is not in the paper (only the norm weight 0.1). 100 is its MSE weight in the
regression and spiral experiments and the reference code's default ``--sim_weight``; the
reference README's command uses 1 (with norm weight 0.05). With weight 1 the penalty dominates
early training: measured (dynamic particles, seed 0), after 20 epochs the test MSE is 0.047 at
every angle, the error of a decoded image that does not move in time, above the mean-training-
frame baseline (0.0117); the latent dynamics stay near the identity.

Quick run (``--quick``, seed 0: 40 epochs, 146 training and 37 test sequences of 16 x 16
digits; 161 s CPU, 13 min wall on the loaded 2-core machine), test MSE at the left-out angle /
over all angles / parameters of the latent dynamics:

- static direct 0.0487 / 0.0404 / 52,420;
- static particles 0.0458 / 0.0374 / 48,200;
- dynamic particles 0.0259 / 0.0199 / 48,200;
- dynamic direct 0.0191 / 0.0161 / 245,300;
- baselines: mean training frame 0.0117, unrotated first frame 0.1268.

Every variant has learnt part of the rotation (2.6 to 6.7 times below the unrotated frame) and
the two time-dependent variants are about twice as good as the static ones, but after 40 epochs
(240 Adam steps at lr 1e-3) none is below the mean-training-frame baseline: the quick run does
not reach the regime of the paper's numbers. The full mode (500 epochs, the paper's; ~12.5 x the
quick run, about 35 min CPU; not run) is the comparison to make.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from ..data import rotating_digits
from ._registry import register_experiment
from ._result import ExperimentResult
from ._threads import single_thread
from ._updown import VARIANTS, make_updown, num_parameters, predict

LATENT, ALPHA, NUM_PARTICLES = 20, 10, 100
LR, BATCH, MSE_WEIGHT, NORM_WEIGHT = 1e-3, 25, 100.0, 0.1
NUM_SKIP, TEST_ANGLE, TEST_FRACTION = 4, 3, 0.2
# initial particle momenta: theta sums K = 100 particles, so 0.01 (not E1's 0.1) gives theta
# entries of the size of an nn.Linear initialisation (~0.07); with 0.1 the flow blows up
MOMENTUM_SCALE = 0.01
#: spec §1.8 E4: MSE at the left-out angle on rotating MNIST (28 x 28), with provenance
REFERENCES = {
    "ODE2VAE": (0.0194, "third-party re-tabulation, unverified"),
    "ODE2VAE-KL": (0.0184, "third-party re-tabulation, unverified"),
    "GPPVAE-DIS": (0.0309, "third-party re-tabulation, unverified"),
    "GPPVAE-JOINT": (0.0288, "third-party re-tabulation, unverified"),
    "Vialard et al. (2020)": (0.0122, "third-party re-tabulation, unverified (+- 0.0064)"),
    "dynamic particles": (0.0112, "reference-code re-run, norm weight 0.05, lr 5e-3"),
    "static direct": (0.0126, "reference-code re-run, norm weight 0.05, lr 5e-3"),
}


class ConvAutoencoder(nn.Module):
    """Two stride-2 convolutions to a ``latent``-dim code and two transposed ones back.

    Images are ``(..., size, size)`` grey levels in [0, 1], ``size`` divisible by 4; codes
    ``(..., latent)``. The decoder ends with a sigmoid (outputs in (0, 1)).
    """

    def __init__(self, size: int, latent: int = LATENT, channels: int = 16):
        super().__init__()
        if size % 4:
            raise ValueError(f"size must be divisible by 4, got {size}")
        self.size, self.latent, c, s = size, latent, channels, size // 4
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * c * s * s, latent))
        self.decoder = nn.Sequential(
            nn.Linear(latent, 2 * c * s * s), nn.ReLU(), nn.Unflatten(1, (2 * c, s, s)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1), nn.Sigmoid())

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        lead = images.shape[:-2]
        return self.encoder(images.reshape(-1, 1, self.size, self.size)).reshape(*lead, -1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        lead = codes.shape[:-1]
        out = self.decoder(codes.reshape(-1, self.latent))
        return out.reshape(*lead, self.size, self.size)


def split_sequences(num: int, seed: int):
    """``(train, test)`` index tensors: a seeded permutation, the last ``TEST_FRACTION`` held
    out."""
    perm = torch.randperm(num, generator=torch.Generator().manual_seed(int(seed)))
    n_test = max(1, round(TEST_FRACTION * num))
    return perm[n_test:], perm[:n_test]


def training_mask(batch: int, num_angles: int, generator: torch.Generator) -> torch.Tensor:
    """``(batch, num_angles)`` bool: the frames a training batch sees. Frame 0 (the encoder's
    input) is always kept, the test angle never; ``NUM_SKIP`` of the others are dropped at
    random per sequence."""
    others = torch.tensor([k for k in range(1, num_angles) if k != TEST_ANGLE])
    keep = torch.ones(batch, num_angles, dtype=torch.bool)
    keep[:, TEST_ANGLE] = False
    for b in range(batch):
        drop = others[torch.randperm(len(others), generator=generator)[:NUM_SKIP]]
        keep[b, drop] = False
    return keep


class LatentUpDown(nn.Module):
    """Encoder -> UpDown latent ODE -> decoder: ``forward(first_frames, t)`` returns the decoded
    sequences ``(B, T, size, size)`` and the integrated penalty ``int_0^t[-1] R dt``."""

    def __init__(self, variant: str, size: int, *, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.autoencoder = ConvAutoencoder(size)
        self.field = make_updown(variant, LATENT, ALPHA, NUM_PARTICLES, 1.0,
                                 momentum_scale=MOMENTUM_SCALE, seed=seed)

    def forward(self, first: torch.Tensor, t: torch.Tensor, step: float):
        z0 = self.autoencoder.encode(first)
        zs, pen = predict(self.field, z0, t, step)  # (B, T, LATENT)
        return self.autoencoder.decode(zs), pen


def _mse(pred, target, keep=None):
    err = ((pred - target) ** 2).mean((-1, -2))  # per frame, (B, T)
    return err.mean() if keep is None else (err * keep).sum() / keep.sum()


def fit_rotating(model: LatentUpDown, frames: torch.Tensor, t: torch.Tensor, epochs: int, *,
                 seed: int = 0) -> list:
    """Train on sequences ``frames`` ``(n, T, size, size)``; returns the loss per epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    g = torch.Generator().manual_seed(int(seed))
    step = float(t[1] - t[0])
    history = []
    for epoch in range(epochs):
        perm = torch.randperm(len(frames), generator=g)
        losses = []
        for start in range(0, len(frames), BATCH):
            y = frames[perm[start:start + BATCH]]
            keep = training_mask(len(y), len(t), g)
            opt.zero_grad()
            pred, pen = model(y[:, 0], t, step)
            loss = MSE_WEIGHT * _mse(pred, y, keep) + NORM_WEIGHT * pen
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch}")
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
        history.append(float(np.mean(losses)))
    return history


@torch.no_grad()
def evaluate(model: LatentUpDown, frames: torch.Tensor, t: torch.Tensor) -> dict:
    """MSE at the left-out angle and over all angles, on ``frames`` ``(n, T, size, size)``."""
    model.eval()
    step = float(t[1] - t[0])
    pred = torch.cat([model(frames[i:i + BATCH, 0], t, step)[0]
                      for i in range(0, len(frames), BATCH)])
    model.train()
    return {"test_mse_left_out_angle": _mse(pred[:, TEST_ANGLE], frames[:, TEST_ANGLE]).item(),
            "test_mse_all_angles": _mse(pred, frames).item()}


def load_sequences(source="sklearn", max_samples: int | None = None):
    """``(frames (n, 16, s, s), t (16,))``: the rotating threes as float32 tensors, with the
    times ``t_k = k / 15``."""
    ds = rotating_digits(3, num_angles=16, source=source, max_samples=max_samples)
    frames = torch.tensor(ds["image"].values)
    t = torch.linspace(0.0, 1.0, frames.shape[1])
    return frames, t


def run_rotating(epochs: int, *, variants=VARIANTS, source="sklearn",
                 max_samples: int | None = None, seed: int = 0,
                 progress: bool = True) -> ExperimentResult:
    """Train every variant on the same split for ``epochs`` epochs and evaluate it."""
    frames, t = load_sequences(source, max_samples)
    train, test = split_sequences(len(frames), seed)
    f_train, f_test = frames[train], frames[test]
    is_mnist = not (isinstance(source, str) and source == "sklearn")
    rows, measured = [], {}
    baselines = {
        "baseline: mean training frame": ((f_train[:, TEST_ANGLE].mean(0) - f_test[:, TEST_ANGLE])
                                          ** 2).mean().item(),
        "baseline: unrotated first frame": ((f_test[:, 0] - f_test[:, TEST_ANGLE])
                                            ** 2).mean().item()}
    for name, value in baselines.items():
        rows.append({"method": name, "metric": "test_mse_left_out_angle", "measured": value,
                     "published": None})
    histories = np.full((len(variants), epochs), np.nan)
    for j, variant in enumerate(tqdm(variants, desc="shooting rotating digits",
                                     disable=not progress)):
        model = LatentUpDown(variant, frames.shape[-1], seed=seed)
        histories[j] = fit_rotating(model, f_train, t, epochs, seed=seed)
        measured[variant] = evaluate(model, f_test, t)
        published = REFERENCES.get(variant, (None,))[0] if is_mnist else None
        rows += [{"method": variant, "metric": "test_mse_left_out_angle",
                  "measured": measured[variant]["test_mse_left_out_angle"],
                  "published": published},
                 {"method": variant, "metric": "test_mse_all_angles",
                  "measured": measured[variant]["test_mse_all_angles"], "published": None},
                 {"method": variant, "metric": "parameters",
                  "measured": num_parameters(model.field), "published": None}]
    ds = xr.Dataset(
        {"loss": (("variant", "epoch"), histories),
         "test_mse_left_out_angle": ("variant", [measured[v]["test_mse_left_out_angle"]
                                                 for v in variants]),
         "test_mse_all_angles": ("variant", [measured[v]["test_mse_all_angles"]
                                             for v in variants])},
        coords={"variant": list(variants), "epoch": np.arange(epochs)},
        attrs={"seed": seed, "epochs": epochs})
    config = {"epochs": epochs, "variants": list(variants), "source": str(source),
              "image_size": int(frames.shape[-1]), "sequences": len(frames),
              "train_sequences": len(train), "test_sequences": len(test),
              "angles": 16, "times": "t_k = k / 15 on [0, 1]", "left_out_angle_index": TEST_ANGLE,
              "frames_dropped_per_sequence": NUM_SKIP, "latent": LATENT, "alpha": ALPHA,
              "num_particles": NUM_PARTICLES, "activation": "relu", "solver": "rk4, step 1/15",
              "lr": LR, "scheduler": "CosineAnnealingLR(T_max=epochs)", "batch": BATCH,
              "loss": f"{MSE_WEIGHT} MSE + {NORM_WEIGHT} int_0^1 R dt",
              "penalty_weights": [1, 1, 1, 1, 10],
              "references": {k: {"mse": v, "provenance": p} for k, (v, p) in REFERENCES.items()},
              "references_note": "28 x 28 MNIST: not comparable in absolute terms with the "
                                 "16 x 16 scikit-learn digits"}
    return ExperimentResult(config, rows, {"shooting_rotating_digits": ds})


@register_experiment(
    "shooting-rotating-digits",
    "UpDown shooting (Vialard et al. 2020): rotating digits (scikit-learn's 8 x 8 threes, or "
    "MNIST IDX files) with a conv autoencoder and a latent UpDown ODE, MSE at a left-out angle",
)
def run(quick: bool, seed: int, out: Path) -> ExperimentResult:
    """Quick: 40 epochs; full: 500 epochs (the paper's); all four variants, 16 x 16 sklearn
    digits, or 28 x 28 MNIST read from the folder named by the environment variable
    ``PROBDYN_MNIST_DIR`` when it is set (``train-images-idx3-ubyte[.gz]`` and
    ``train-labels-idx1-ubyte[.gz]``)."""
    mnist = os.environ.get("PROBDYN_MNIST_DIR")
    if mnist is not None and not Path(mnist).is_dir():
        raise ValueError(f"PROBDYN_MNIST_DIR={mnist!r} is not a folder")
    with single_thread():  # small networks: one thread is fastest
        return run_rotating(40 if quick else 500, seed=seed,
                            source=Path(mnist) if mnist else "sklearn")


__all__ = ["ConvAutoencoder", "LatentUpDown", "REFERENCES", "evaluate", "fit_rotating",
           "load_sequences", "run", "run_rotating", "split_sequences", "training_mask"]
