"""Interactive drift-map viewer (pyqtgraph + PySide6, the ``gui`` extra).

:class:`DriftmapPlotWidget` shows one session: pan and zoom through the whole recording (a
density image of every spike at overview zoom, the real spikes of the window when zoomed in),
hover a spike to read its time, depth, amplitude and unit, click it to highlight its unit and
see its template as a heat map; toggle frames, pick shanks and units.
:class:`MultiSessionDriftmapWidget` puts several sessions on a grid with one shared depth axis
and one grey scale. :func:`sorting_source` and :func:`folder_source` (chunked reading) let a
panel re-select its session in another frame. Importing this package imports Qt; without
the ``gui`` extra it raises :class:`driftqc.errors.MissingExtraError`. ``import driftqc``
alone never imports it.
"""

from __future__ import annotations

from driftqc.interactive._qt import ensure_app
from driftqc.interactive.driftmap_widget import DriftmapPlotWidget
from driftqc.interactive.grid import grid_shape
from driftqc.interactive.heatmap import TemplateHeatmap, template_heatmap
from driftqc.interactive.multi_session import MultiSessionDriftmapWidget
from driftqc.interactive.sources import SessionSource, folder_source, sorting_source

__all__ = [
    "DriftmapPlotWidget",
    "MultiSessionDriftmapWidget",
    "SessionSource",
    "TemplateHeatmap",
    "ensure_app",
    "folder_source",
    "grid_shape",
    "sorting_source",
    "template_heatmap",
]
