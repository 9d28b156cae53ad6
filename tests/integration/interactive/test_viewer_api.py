"""The viewer's widgets keep the option defaults and the driftplots 0.2.2 signature.

The rest of the front doors are checked without Qt in ``tests/unit/core/test_option_defaults.py``
and ``tests/unit/core/test_plotting.py``; these need the widget classes, so Qt.
"""

from __future__ import annotations

import inspect

from driftqc.interactive import DriftmapPlotWidget, MultiSessionDriftmapWidget
from driftqc.options import STYLE
from tests.helpers.seed_api import our_signature, seed_signature


def test_viewer_defaults_are_the_option_defaults():
    parameters = inspect.signature(DriftmapPlotWidget.__init__).parameters
    names = ("amplitude_cmap_scaling", "n_color_bins", "point_size")
    assert {name: parameters[name].default for name in names} == {
        "amplitude_cmap_scaling": STYLE.amplitude_cmap_scaling,
        "n_color_bins": STYLE.n_color_bins,
        "point_size": STYLE.point_size,
    }


def test_multi_session_widget_signature_matches_the_seed_api():
    seed = seed_signature("MultiSessionDriftmapWidget")
    ours = our_signature(MultiSessionDriftmapWidget.__init__)
    assert ours[: len(seed)] == seed
    assert ours[len(seed) :] == [("parent", None)]  # Qt's usual last argument, added
