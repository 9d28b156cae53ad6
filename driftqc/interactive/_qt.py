"""The Qt binding of the interactive viewer, imported once, with a clear error when missing.

The viewer uses PySide6 through pyqtgraph. Importing PySide6 before pyqtgraph makes pyqtgraph
pick that binding even when another one (PyQt) is installed too. Both come with the ``gui``
extra; without it, importing :mod:`driftqc.interactive` raises
:class:`driftqc.errors.MissingExtraError` naming the extra to install.
"""

from __future__ import annotations

from driftqc.errors import MissingExtraError

_WHAT = "The interactive viewer"

try:
    from PySide6 import QtCore, QtGui, QtWidgets
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingExtraError("gui", "PySide6", _WHAT) from exc

try:
    import pyqtgraph as pg
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingExtraError("gui", "pyqtgraph", _WHAT) from exc

__all__ = ["QtCore", "QtGui", "QtWidgets", "ensure_app", "pg"]


def ensure_app() -> QtWidgets.QApplication:
    """Return the running ``QApplication``, creating one if none exists.

    pyqtgraph's ``mkQApp`` keeps a reference to the application it creates, so it is not
    garbage collected while widgets still use it.
    """
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = pg.mkQApp("driftqc")
    return app  # type: ignore[return-value]
