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
    """Scene position of spike ``index`` of the widget's spikes."""
    from PySide6.QtCore import QPointF

    spikes = widget.spikes
    return widget.view_box.mapViewToScene(
        QPointF(float(spikes.times[index]), float(spikes.depths[index]))
    )


def drawn_points(widget):
    """(time, depth, grey bin) of every point the widget's grey-bin items draw, sorted."""
    rows = [
        np.column_stack([*item.getData(), np.full(len(item), item.bin)])
        for item in widget.bin_items
    ]
    rows = np.concatenate(rows) if rows else np.zeros((0, 3))
    return rows[np.lexsort(rows.T[::-1])]


def spike_points(spikes, index, bins):
    """(time, depth, grey bin) rows of some spikes, sorted as :func:`drawn_points`."""
    rows = np.column_stack([spikes.times[index], spikes.depths[index].astype(np.float64), bins])
    return rows[np.lexsort(rows.T[::-1])]


def settle(widget, qtbot):
    """Let the widget's deferred redraw (after a range change) run."""
    qtbot.wait(5)
    widget.update_view()


def isolated_spike(widget, min_px=3.0, seed=0):
    """A drawn spike in view whose nearest other drawn spike is at least ``min_px`` pixels away."""
    widget.update_view()  # the window's points, drawn now rather than after the next event
    shown = widget.spikes
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


def big_session(n_spikes=600_000, duration=600.0, n_units=8, unit="µV", seed=0):
    """A long in-memory session (no folder): ``(selection, geometry keywords)``.

    Units sit 400 µm apart on one 16-channel shank; times are uniform, amplitudes lognormal.
    Built with numpy in well under a second, so a test can have a "big" session with a small
    point budget.
    """
    from driftqc.model import SessionInfo, SpikeTable
    from driftqc.selection import select_spikes

    rng = np.random.default_rng(seed)
    templates = rng.integers(0, n_units, n_spikes).astype(np.int32)
    info = SessionInfo(
        name="big",
        path=None,
        sorter="kilosort4",
        sample_rate=30_000.0,
        amplitude_unit=unit,
        amplitude_definition="synthetic",
        depth_estimator="synthetic",
        depth_frame="registered",
    )
    table = SpikeTable(
        times=np.sort(rng.uniform(0.0, duration, n_spikes)),
        amplitudes=rng.lognormal(3.0, 0.5, n_spikes).astype(np.float32),
        depths=(templates * 400.0 + rng.normal(0.0, 40.0, n_spikes)).astype(np.float32),
        templates=templates,
        clusters=templates,
        info=info,
        cluster_labels={u: ("good" if u % 2 else "mua") for u in range(n_units)},
    )
    n_channels = 16
    positions = np.column_stack([np.tile([11.0, 43.0], 8), np.repeat(np.arange(8) * 400.0, 2)])
    waveforms = np.zeros((n_units, 20, n_channels), dtype=np.float32)
    for u in range(n_units):
        waveforms[u, 5:8, 2 * u] = [-4.0, -8.0, 3.0]
    geometry = {
        "templates": waveforms,
        "channel_positions": positions,
        "channel_shanks": np.zeros(n_channels, dtype=np.int32),
    }
    return select_spikes(table), geometry
