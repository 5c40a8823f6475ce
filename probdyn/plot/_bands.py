"""Mean-and-interval plots: smoothed components and forecast fan charts."""

import numpy as np
from scipy.stats import norm


def _np(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(9, 3.5))
    return ax


def plot_band(time, mean, variance, ax=None, levels=(0.5, 0.9), color="C0", label=None):
    """A mean line with central Gaussian intervals of the given ``levels`` (nested bands).

    ``time``, ``mean``, ``variance``: 1-D, same length (variance in squared data units).
    Returns the axes.
    """
    ax = _axes(ax)
    time, mean, sd = _np(time), _np(mean).reshape(-1), np.sqrt(_np(variance).reshape(-1))
    if not (len(time) == len(mean) == len(sd)):
        raise ValueError("time, mean and variance must have the same length, got "
                         f"{len(time)}, {len(mean)}, {len(sd)}")
    for i, level in enumerate(sorted(levels, reverse=True)):
        z = norm.ppf(0.5 + level / 2)
        ax.fill_between(time, mean - z * sd, mean + z * sd, color=color, alpha=0.15 + 0.1 * i,
                        lw=0, label=f"{int(level * 100)}% interval" if label else None)
    ax.plot(time, mean, color=color, lw=1.5, label=label)
    return ax


def plot_forecast(time, y, forecast_time, mean, variance, ax=None, levels=(0.5, 0.9),
                  title=None, ylabel=None):
    """Fan chart: observed ``y`` against ``time`` and the forecast mean with Gaussian
    intervals over ``forecast_time``. Returns the axes."""
    ax = _axes(ax)
    ax.plot(_np(time), _np(y).reshape(-1), color="k", lw=1, label="observed")
    plot_band(forecast_time, mean, variance, ax=ax, levels=levels, color="C3", label="forecast")
    if title:
        ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_components(time, components, y=None, levels=(0.9,)):
    """One panel per component: ``components`` maps name -> (mean, variance) arrays of length
    T (e.g. :meth:`probdyn.ssm.StructuralTimeSeries.decompose`). ``y`` is drawn over the first
    panel. Returns the figure."""
    import matplotlib.pyplot as plt

    names = list(components)
    if not names:
        raise ValueError("components is empty")
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.2 * len(names)), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        mean, var = components[name]
        if y is not None and ax is axes[0, 0]:
            ax.plot(_np(time), _np(y).reshape(-1), color="k", lw=0.6, alpha=0.6,
                    label="observed")
        plot_band(time, mean, var, ax=ax, levels=levels, color="C0", label=f"smoothed {name}")
        ax.set_ylabel(name)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
