"""Pictures of fits and forecasts (matplotlib). Edges layer: takes arrays or xarray, no maths."""

from ._bands import plot_band, plot_components, plot_forecast
from ._fields import plot_motion_field

__all__ = ["plot_band", "plot_components", "plot_forecast", "plot_motion_field"]
