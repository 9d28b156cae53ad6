"""Viewer test fixtures: real PySide6 widgets, offscreen, on the shared synthetic folders.

Every test in this folder needs the ``gui`` extra and is marked ``gui`` (``tests/conftest.py``).
Without PySide6 or pyqtgraph the folder is skipped before any of its modules is imported.
"""

from __future__ import annotations

import os

# before anything imports Qt: no display is needed (or used) by these tests
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6", reason="the gui extra is not installed")
pytest.importorskip("pyqtgraph", reason="the gui extra is not installed")

from driftqc import DriftPlotter  # noqa: E402


@pytest.fixture(scope="session")
def ks4_plotter(ks4_session):
    return DriftPlotter(ks4_session.path)


@pytest.fixture(scope="session")
def ks25_plotter(ks25_session):
    return DriftPlotter(ks25_session.path)


@pytest.fixture
def show(qtbot):
    """Register a widget for teardown, give it a size, show it and let Qt lay it out."""

    def _show(widget, width=1000, height=700):
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        qtbot.waitExposed(widget)
        qtbot.wait(10)
        return widget

    return _show


def scene_pos(widget, index):
    """Scene position of spike ``index`` of the widget's shown spikes."""
    from PySide6.QtCore import QPointF

    shown = widget.selection.shown
    return widget.view_box.mapViewToScene(
        QPointF(float(shown.times[index]), float(shown.depths[index]))
    )


def isolated_spike(widget, min_px=3.0, seed=0):
    """A shown spike in view whose nearest other drawn spike is at least ``min_px`` pixels away."""
    shown = widget.selection.shown
    px_w, px_h = widget.view_box.viewPixelSize()
    (x0, x1), (y0, y1) = widget.view_box.viewRange()
    x = np.asarray(shown.times) / px_w
    y = np.asarray(shown.depths, dtype=np.float64) / px_h
    in_view = np.flatnonzero(
        (shown.times > x0) & (shown.times < x1) & (shown.depths > y0) & (shown.depths < y1)
    )
    rng = np.random.default_rng(seed)
    for i in rng.permutation(in_view):
        d2 = (x - x[i]) ** 2 + (y - y[i]) ** 2
        d2[i] = np.inf
        if d2.min() >= min_px**2:
            return int(i)
    raise AssertionError("no isolated spike: zoom in further")


def left_click_event(scene_pos):
    """A pyqtgraph click event at ``scene_pos``, as the scene builds it from a mouse release.

    Built from a real ``QGraphicsSceneMouseEvent``. (Sending synthetic ``QMouseEvent`` objects
    to the view's viewport also works, but made the test process crash now and then at exit,
    in the garbage collector, under pytest.)
    """
    from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtWidgets import QGraphicsSceneMouseEvent

    release = QGraphicsSceneMouseEvent(QEvent.Type.GraphicsSceneMouseRelease)
    release.setScenePos(scene_pos)
    release.setButton(Qt.MouseButton.LeftButton)
    release.setButtons(Qt.MouseButton.NoButton)
    return MouseClickEvent(release)


@pytest.fixture(autouse=True)
def _flush_deleted_widgets(request):
    """After each test, really delete the widgets qtbot closed (``deleteLater``) and collect.

    Otherwise their Python wrappers linger until interpreter shutdown and are collected after
    the QApplication is gone.
    """
    yield
    if "qtbot" not in request.fixturenames:
        return
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    gc.collect()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()
