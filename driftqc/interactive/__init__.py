"""Interactive drift-map viewer (pyqtgraph + PySide6, the ``gui`` extra).

:class:`DriftmapPlotWidget` shows one session: pan and zoom through the whole recording, hover
a spike to read its time, depth, amplitude and unit, click it to see its unit's template as a
heat map. :class:`MultiSessionDriftmapWidget` puts several sessions on a grid with one shared
depth axis. Importing this package imports Qt; without the ``gui`` extra it raises
:class:`driftqc.errors.MissingExtraError`. ``import driftqc`` alone never imports it.
"""

from __future__ import annotations

from driftqc.interactive._qt import ensure_app
from driftqc.interactive.driftmap_widget import DriftmapPlotWidget
from driftqc.interactive.grid import grid_shape
from driftqc.interactive.heatmap import TemplateHeatmap, template_heatmap
from driftqc.interactive.multi_session import MultiSessionDriftmapWidget

__all__ = [
    "DriftmapPlotWidget",
    "MultiSessionDriftmapWidget",
    "TemplateHeatmap",
    "ensure_app",
    "grid_shape",
    "template_heatmap",
]
