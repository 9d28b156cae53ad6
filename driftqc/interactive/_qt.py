"""The Qt binding of the interactive viewer, imported once, with a clear error when missing.

The viewer uses PySide6 through pyqtgraph. Importing PySide6 before pyqtgraph makes pyqtgraph
pick that binding even when another one (PyQt) is installed too. Both come with the ``gui``
extra; without it, importing :mod:`driftqc.interactive` raises
:class:`driftqc.errors.MissingExtraError` naming the extra to install.
"""

from __future__ import annotations

import signal
import sys
import threading

from driftqc.errors import MissingExtraError

_WHAT = "The interactive viewer"

try:
    import shiboken6
    from PySide6 import QtCore, QtGui, QtWidgets
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingExtraError("gui", "PySide6", _WHAT) from exc

try:
    import pyqtgraph as pg
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingExtraError("gui", "pyqtgraph", _WHAT) from exc

__all__ = ["QtCore", "QtGui", "QtWidgets", "ensure_app", "exec_app", "pg", "shiboken6"]


def ensure_app() -> QtWidgets.QApplication:
    """Return the running ``QApplication``, creating one if none exists.

    pyqtgraph's ``mkQApp`` keeps a reference to the application it creates, so it is not
    garbage collected while widgets still use it. Qt is given ``sys.argv`` with any argument
    that is not valid UTF-8 (a path with surrogate escapes) made printable: PySide crashes on
    such an argument.
    """
    app = QtWidgets.QApplication.instance()
    if app is None:
        argv = sys.argv
        sys.argv = [_encodable(arg) for arg in argv]
        try:
            app = pg.mkQApp("driftqc")
        finally:
            sys.argv = argv
    return app  # type: ignore[return-value]


def exec_app(app: QtWidgets.QApplication) -> None:
    """Run the Qt event loop until the last window closes; Ctrl-C stops it too.

    Qt's loop runs no Python code while idle, so Python's Ctrl-C handler would wait for the
    next event. Here Ctrl-C quits the loop, a timer lets Python see the signal within 0.1 s,
    and :class:`KeyboardInterrupt` is raised once the loop has returned.

    Raises
    ------
    KeyboardInterrupt
        If the loop was stopped with Ctrl-C (SIGINT).
    """
    if threading.current_thread() is not threading.main_thread():
        app.exec()  # signal handlers can only be set from the main thread
        return
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True
        app.exit(0)  # quit() would first close the windows, which Ctrl-C need not do

    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, on_sigint)
    timer = QtCore.QTimer()
    timer.timeout.connect(lambda: None)  # wakes Python up to run the signal handler
    timer.start(100)
    try:
        app.exec()
    finally:
        timer.stop()
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if interrupted:
        raise KeyboardInterrupt


def _encodable(arg: str) -> str:
    """Return ``arg`` with surrogate escapes decoded as U+FFFD."""
    if arg.isascii():
        return arg
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in arg)
