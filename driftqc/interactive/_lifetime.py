"""Deleting the viewer's widgets before Python shuts down, so exiting never crashes.

A script that builds a viewer and ends without closing it leaves the widgets to PySide's own
exit hook, which deletes every Qt object Python still owns, in no particular order, after
Python has started to shut down. pyqtgraph's central ``GraphicsLayout`` is such an object
(owned by Python although it lives in a scene): deleted on its own, it tears down the plot
items under it, whose geometry changes call pyqtgraph's Python overrides of ``setGeometry`` /
``event`` while their parents are half-destroyed. An error raised there during shutdown made
shiboken crash (exit code 139) in about one run in three once a spike had been selected.

:func:`track` registers each top-level-capable driftqc widget; the first call also registers
:func:`delete_live_widgets` with :mod:`atexit`. At that point PySide has already registered
its hook, and atexit runs hooks last-in first-out, so driftqc's runs first: it disconnects the
widgets' signals and deletes them from the top down (a widget takes its child widgets, the
graphics view, its scene and every item with it) while the interpreter and the
``QApplication`` still work. PySide's hook then finds nothing of driftqc's left to delete.
"""

from __future__ import annotations

import atexit
import contextlib
import weakref

from driftqc.interactive._qt import QtCore, QtWidgets, shiboken6

_LIVE: weakref.WeakSet[QtWidgets.QWidget] = weakref.WeakSet()
_REGISTERED = False


def track(widget: QtWidgets.QWidget) -> None:
    """Delete ``widget`` (if still alive) when the interpreter exits.

    Parameters
    ----------
    widget
        A driftqc widget; its ``_shutdown()`` method, if any, is called before deletion.
    """
    global _REGISTERED
    _LIVE.add(widget)
    if not _REGISTERED:
        # registered after PySide created its own exit hook, so it runs before that one
        atexit.register(delete_live_widgets)
        _REGISTERED = True


def delete_live_widgets() -> int:
    """Close and delete every tracked driftqc widget that still exists.

    Returns
    -------
    int
        Number of widgets deleted.

    Notes
    -----
    Called at exit; safe to call at any time (a deleted widget cannot be used afterwards).
    Top-level widgets go first, so each tree is torn down by Qt in its normal order.
    """
    app = QtCore.QCoreApplication.instance()
    widgets = [w for w in list(_LIVE) if shiboken6.isValid(w)]
    _LIVE.clear()
    if app is None or not widgets:
        return 0
    for widget in widgets:
        shutdown = getattr(widget, "_shutdown", None)
        if shutdown is not None:
            with contextlib.suppress(RuntimeError, TypeError):  # a part was already deleted
                shutdown()
    deleted = 0
    widgets.sort(key=lambda w: w.parent() is not None)  # top-level ones first
    for widget in widgets:
        if not shiboken6.isValid(widget):  # went with its parent
            continue
        shiboken6.delete(widget)
        deleted += 1
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    return deleted
