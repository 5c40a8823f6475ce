"""The early-stopping bookkeeping shared by the training loops."""

import torch

from probdyn._best_state import BestState


def _set(module, value):
    with torch.no_grad():
        module.weight.fill_(value)


def test_keeps_the_best_state_and_counts_stale_checks():
    lin = torch.nn.Linear(1, 1, bias=False)
    best = BestState(lin, patience=2)
    for step, (w, score) in enumerate([(1.0, 3.0), (2.0, 1.0), (3.0, 2.0), (4.0, 1.5)]):
        _set(lin, w)
        improved = best.update(score, step)
        assert improved == (step in (0, 1))
        assert best.should_stop == (step == 3)  # two checks without improvement after step 1
    assert best.restore(default=99) == 1
    assert float(lin.weight) == 2.0  # the state of the best step, not the last


def test_maximize_and_no_patience():
    lin = torch.nn.Linear(1, 1, bias=False)
    best = BestState(lin, maximize=True)
    for step, (w, acc) in enumerate([(1.0, 0.5), (2.0, 0.9), (3.0, 0.7)] * 5):
        _set(lin, w)
        best.update(acc, step)
    assert not best.should_stop
    assert best.restore() == 1 and float(lin.weight) == 2.0


def test_restore_without_a_finite_score_leaves_the_module():
    lin = torch.nn.Linear(1, 1, bias=False)
    best = BestState(lin)
    _set(lin, 5.0)
    best.update(float("nan"), 0)  # NaN never counts as an improvement
    assert best.restore(default=7) == 7 and float(lin.weight) == 5.0
