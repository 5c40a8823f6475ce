"""Keep a module's parameters at its best validation score: the early-stopping bookkeeping that
every training loop of probdyn shares (best score, a copy of the state, checks without
improvement, restore at the end).

A private top-level module: it imports only torch, so any layer may use it."""

from __future__ import annotations

import copy
import math

import torch


class BestState:
    """The best validation score of ``module`` seen so far and a copy of its state then.

    Parameters
    ----------
    module : nn.Module
        The model being trained (its ``state_dict`` is copied at each improvement).
    patience : int, optional
        :attr:`should_stop` turns true after this many checks in a row without improvement.
    maximize : bool
        Higher scores are better (accuracy) instead of lower (a loss).

    Examples
    --------
    >>> best = BestState(model, patience=10)
    >>> for epoch in range(epochs):
    ...     train_one_epoch()
    ...     best.update(validation_loss(), epoch)
    ...     if best.should_stop:
    ...         break
    >>> best_epoch = best.restore(default=epoch)
    """

    def __init__(self, module: torch.nn.Module, patience: int | None = None,
                 maximize: bool = False):
        self.module, self.patience, self.maximize = module, patience, maximize
        self.score = -math.inf if maximize else math.inf
        self.step = None  # the step of the best score; None before any update
        self.state = None
        self.stale = 0  # checks since the last improvement

    def update(self, score: float, step: int) -> bool:
        """Record the score of ``step``; copy the state if it is the best so far (True)."""
        better = score > self.score if self.maximize else score < self.score
        if better:
            self.score, self.step, self.stale = score, step, 0
            self.state = copy.deepcopy(self.module.state_dict())
        else:
            self.stale += 1
        return better

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.stale >= self.patience

    def restore(self, default: int | None = None) -> int | None:
        """Load the best state into the module; the best step (``default`` if none was
        recorded, in which case the module is left as it is)."""
        if self.state is None:
            return default
        self.module.load_state_dict(self.state)
        return self.step
