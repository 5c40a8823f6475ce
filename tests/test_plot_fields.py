"""plot_motion_field: the arrows drawn are the motion field in axis units."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from probdyn.plot import plot_motion_field  # noqa: E402


def test_arrows_are_the_motion_in_axis_units():
    rng = np.random.default_rng(0)
    image, motion = rng.normal(size=(6, 8)), rng.normal(size=(2, 6, 8))
    lon, lat = 200 + 2.5 * np.arange(8), 75 - 2.5 * np.arange(6)  # latitude descending
    ax = Figure().subplots()
    plot_motion_field(image, motion, ax=ax, x=lon, y=lat, stride=2, steps=3.0, title="t")
    (quiver,) = ax.collections[1:]
    np.testing.assert_allclose(quiver.U, (motion[0, ::2, ::2] * 2.5 * 3).ravel())
    # w_y > 0 is towards larger row index, i.e. decreasing latitude here
    np.testing.assert_allclose(quiver.V, (motion[1, ::2, ::2] * -2.5 * 3).ravel())
    np.testing.assert_allclose(quiver.X, np.meshgrid(lon[::2], lat[::2])[0].ravel())
    assert ax.get_title() == "t"


def test_bad_input():
    with pytest.raises(ValueError, match="motion"):
        plot_motion_field(np.zeros((4, 5)), np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        plot_motion_field(np.zeros((4, 5)), np.full((2, 4, 5), np.nan))
    with pytest.raises(ValueError, match="stride"):
        plot_motion_field(np.zeros((4, 5)), np.zeros((2, 4, 5)), stride=0)
    with pytest.raises(ValueError, match="length"):
        plot_motion_field(np.zeros((4, 5)), np.zeros((2, 4, 5)), x=np.arange(4))
