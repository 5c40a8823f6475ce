"""The least-action principle as a training option (thesis ch. 4.2, Algorithm 4 "LAP-Net").

Training solves ``min_theta C(theta)`` subject to the task loss ``L(theta) = 0``, where ``C``
is the transport cost (kinetic energy) of the learned flow, through the min-max
``min_theta max_{lambda > 0} C + lambda L``. The Uzawa iteration (S18) alternates ``s`` SGD
steps on ``C / lambda_i + L`` (the objective divided by ``lambda_i`` for stability; its
gradient is parallel to that of ``C + lambda_i L``) with the ascent step
``lambda_{i+1} = lambda_i + tau L``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .._best_state import BestState
from ..dynamics import ResidualTransport, VectorField, kinetic_energy, transport_cost


class LeastActionMultiplier:
    """The adaptive multiplier of Algorithm 4 (Uzawa): ``lambda += tau * L`` every ``s`` steps.

    Parameters
    ----------
    lambda0 : float
        Initial multiplier of the task loss (thesis: 5 on MNIST, 0.1 on CIFAR10 and on the 2-D
        toy, 1 for ResNeXt).
    tau : float
        Ascent step of the multiplier (thesis: 1 on MNIST, 0.1 otherwise).
    inner_steps : int
        ``s``, optimiser steps (batches) between two multiplier updates (thesis: 5; 50 on
        CIFAR10).

    Notes
    -----
    The thesis does not say on which batch ``L(theta_{i+1})`` of the update is evaluated; here
    it is the mean task loss of the ``s`` batches of the inner loop (each evaluated before its
    step), which costs nothing extra and is less noisy than a single batch.
    """

    def __init__(self, lambda0: float = 0.1, tau: float = 0.1, inner_steps: int = 5):
        if not (lambda0 > 0 and math.isfinite(lambda0)):
            raise ValueError(f"lambda0 must be positive and finite, got {lambda0!r}")
        if not (tau >= 0 and math.isfinite(tau)):
            raise ValueError(f"tau must be non-negative and finite, got {tau!r}")
        if isinstance(inner_steps, bool) or int(inner_steps) != inner_steps or inner_steps < 1:
            raise ValueError(f"inner_steps must be a positive integer, got {inner_steps!r}")
        self.value = float(lambda0)
        self.tau = float(tau)
        self.inner_steps = int(inner_steps)
        self.history = [self.value]
        self._pending: list[float] = []

    def objective(self, cost: torch.Tensor, task_loss: torch.Tensor) -> torch.Tensor:
        """``cost / lambda + task_loss``: what the inner SGD steps minimise."""
        return cost / self.value + task_loss

    def update(self, task_loss: float) -> None:
        """Record one batch's task loss (``>= 0``); every ``inner_steps`` calls, ascend."""
        task_loss = float(task_loss)
        if not (task_loss >= 0 and math.isfinite(task_loss)):
            raise ValueError(f"task_loss must be finite and non-negative, got {task_loss!r}")
        self._pending.append(task_loss)
        if len(self._pending) == self.inner_steps:
            self.value += self.tau * sum(self._pending) / self.inner_steps
            self.history.append(self.value)
            self._pending.clear()

    def __repr__(self) -> str:
        return (f"LeastActionMultiplier(lambda={self.value:.4g}, tau={self.tau}, "
                f"inner_steps={self.inner_steps})")


class FixedPenalty:
    """The fixed-weight baseline ("Regularized ResNet"): minimise ``L + weight * C``.

    The thesis does not say whether its fixed lambda multiplies C or L; its toy values
    (0.005-0.09) are penalty weights on C, which is the reading taken here.
    """

    def __init__(self, weight: float):
        if not (weight >= 0 and math.isfinite(weight)):
            raise ValueError(f"weight must be non-negative and finite, got {weight!r}")
        self.value = float(weight)

    def objective(self, cost: torch.Tensor, task_loss: torch.Tensor) -> torch.Tensor:
        return task_loss + self.value * cost

    def update(self, task_loss: float) -> None:  # nothing adapts
        pass

    def __repr__(self) -> str:
        return f"FixedPenalty(weight={self.value})"


def as_regulariser(least_action):
    """``None`` (no penalty), a float (a :class:`FixedPenalty` weight) or a
    :class:`LeastActionMultiplier` / :class:`FixedPenalty` as it is."""
    if least_action is None or isinstance(least_action, (LeastActionMultiplier, FixedPenalty)):
        return least_action
    if isinstance(least_action, (int, float)) and not isinstance(least_action, bool):
        return FixedPenalty(float(least_action))
    raise ValueError("least_action must be None, a float weight, a FixedPenalty or a "
                     f"LeastActionMultiplier, got {type(least_action).__name__}")


@dataclass
class ClassifierResult:
    """Outcome of :func:`fit_transport_classifier`.

    Attributes
    ----------
    losses, costs : list of float
        Mean task loss (cross-entropy) and transport cost per epoch, on the training data.
    accuracies, validation_accuracies : list of float
        Training / validation accuracy per epoch (validation: empty without ``x_val``).
    multipliers : list of float
        The Uzawa multiplier after each update (``[]`` without a multiplier).
    best_epoch : int
        The epoch whose parameters the model holds at the end (best validation accuracy,
        else the last epoch).
    seed : int or None
    """

    losses: list = field(repr=False)
    costs: list = field(repr=False)
    accuracies: list = field(repr=False)
    validation_accuracies: list = field(repr=False)
    multipliers: list = field(repr=False)
    best_epoch: int
    seed: int | None = None


def transport_and_cost(transport: nn.Module, x: torch.Tensor, *, t_end: float = 1.0,
                       num_steps: int = 10, method: str = "rk4"):
    """``(T(x), C)``: the transported points (B, d) and the mean transport cost per sample.

    A :class:`~probdyn.dynamics.ResidualTransport` costs ``sum_k ||x_{k+1} - x_k||^2`` (S17,
    unit steps); a vector field is integrated on ``[0, t_end]`` with ``num_steps`` fixed
    steps of ``method`` and costs ``∫ ||v||^2 dt`` (:func:`~probdyn.dynamics.kinetic_energy`).
    """
    if isinstance(transport, ResidualTransport):
        path = transport.trajectory(x)
        return path[..., -1, :], transport_cost(path).mean()
    if isinstance(transport, VectorField):
        t = torch.linspace(0.0, t_end, 2, dtype=x.dtype)
        xs, energy = kinetic_energy(transport, x, t, method=method, step_size=t_end / num_steps)
        return xs[..., -1, :], energy[..., -1].mean()
    raise ValueError("transport must be a ResidualTransport or a VectorField, got "
                     f"{type(transport).__name__}")


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(-1) == labels).to(torch.float64).mean())


def fit_transport_classifier(transport: nn.Module, head: nn.Module, x, labels, *,
                             least_action=None, epochs: int = 100, batch_size: int = 64,
                             lr: float = 1e-2, x_val=None, labels_val=None,
                             seed: int | None = 0, progress: bool = True,
                             **transport_kwargs) -> ClassifierResult:
    """Train the classifier ``head(T(x))`` by cross-entropy, optionally under least action.

    Parameters
    ----------
    transport : ResidualTransport or VectorField
        The transport ``T`` (a residual network or a neural ODE on ``[0, 1]``).
    head : nn.Module
        Maps ``(B, d)`` to class logits ``(B, num_classes)``. Its parameters are trained only
        if they require grad (the thesis's toy keeps a fixed linear classifier).
    x : tensor, shape (B, d)
    labels : tensor of int, shape (B,)
    least_action : None, float, FixedPenalty or LeastActionMultiplier
        ``None``: plain training; a float: ``L + weight * C``; a multiplier: Algorithm 4.
    epochs, batch_size, lr
        Adam on shuffled mini-batches.
    x_val, labels_val : tensors, optional
        Validation data: the model keeps the parameters of the best validation accuracy
        (the thesis reports the highest test accuracy within its epoch budget).
    seed : int, optional
        Seeds the shuffling.
    progress : bool
        tqdm bar over epochs.
    **transport_kwargs
        ``t_end``, ``num_steps``, ``method`` for an ODE transport (see
        :func:`transport_and_cost`).
    """
    x = torch.as_tensor(x)
    labels = torch.as_tensor(labels)
    if x.dim() != 2 or labels.shape != x.shape[:1]:
        raise ValueError(f"x must be (B, d) and labels (B,), got {tuple(x.shape)} and "
                         f"{tuple(labels.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    if labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"labels must be integer class indices, got {labels.dtype}")
    if (x_val is None) != (labels_val is None):
        raise ValueError("give both x_val and labels_val, or neither")
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    regulariser = as_regulariser(least_action)
    params = [p for m in (transport, head) for p in m.parameters() if p.requires_grad]
    if not params:
        raise ValueError("transport and head have no trainable parameters")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    opt = torch.optim.Adam(params, lr=lr)
    ce = nn.CrossEntropyLoss()
    losses, costs, accs, val_accs = [], [], [], []
    modules = nn.ModuleList([transport, head])
    best = BestState(modules, maximize=True)
    with tqdm(total=int(epochs), desc="train", disable=not progress, leave=False) as bar:
        for epoch in range(int(epochs)):
            modules.train()
            order = torch.randperm(x.shape[0], generator=generator)
            tot_loss = tot_cost = correct = 0.0
            for start in range(0, x.shape[0], int(batch_size)):
                idx = order[start:start + int(batch_size)]
                opt.zero_grad()
                z, cost = transport_and_cost(transport, x[idx], **transport_kwargs)
                logits = head(z)
                loss = ce(logits, labels[idx])
                objective = loss if regulariser is None else regulariser.objective(cost, loss)
                if not torch.isfinite(objective):
                    raise RuntimeError(f"training objective is {float(objective)} in epoch "
                                       f"{epoch}: lower lr")
                objective.backward()
                opt.step()
                loss, cost = loss.detach(), cost.detach()
                if regulariser is not None:
                    regulariser.update(float(loss))
                n = len(idx)
                tot_loss += float(loss) * n
                tot_cost += float(cost) * n
                correct += _accuracy(logits.detach(), labels[idx]) * n
            losses.append(tot_loss / x.shape[0])
            costs.append(tot_cost / x.shape[0])
            accs.append(correct / x.shape[0])
            post = {"loss": f"{losses[-1]:.3g}", "cost": f"{costs[-1]:.3g}"}
            if x_val is not None:
                val = evaluate_transport_classifier(transport, head, x_val, labels_val,
                                                    **transport_kwargs)["accuracy"]
                val_accs.append(val)
                post["val_acc"] = f"{val:.3f}"
                best.update(val, epoch)
            bar.update(1)
            bar.set_postfix(post)
    best_epoch = best.restore(default=len(losses) - 1)
    multipliers = list(regulariser.history) if isinstance(regulariser,
                                                          LeastActionMultiplier) else []
    return ClassifierResult(losses, costs, accs, val_accs, multipliers, best_epoch, seed)


def evaluate_transport_classifier(transport: nn.Module, head: nn.Module, x, labels,
                                  **transport_kwargs) -> dict:
    """Accuracy, cross-entropy and mean transport cost of ``head(T(x))`` in eval mode
    (batch norm uses its running statistics), without gradients."""
    modules = nn.ModuleList([transport, head])
    was_training = modules.training
    modules.eval()
    try:
        with torch.no_grad():
            z, cost = transport_and_cost(transport, torch.as_tensor(x), **transport_kwargs)
            logits = head(z)
            labels = torch.as_tensor(labels)
            loss = float(nn.functional.cross_entropy(logits, labels))
    finally:
        modules.train(was_training)
    return {"accuracy": _accuracy(logits, labels), "loss": loss, "cost": float(cost)}

