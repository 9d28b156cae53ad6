"""A scatter of equally styled points (one grey bin of a drift map), drawn in one call.

A drift map draws up to millions of spikes in ~20 grey levels. pyqtgraph's
``ScatterPlotItem`` supports per-point styles, and pays for it even when all points share one:
``setData`` walks every point in Python to look up its symbol in an atlas (about 2 s for
10⁶ points here, see ``benchmarks/bench_viewer.py``). :class:`BinScatterItem` is the
equivalent for the uniform case: one brush, one pre-rendered disc, points kept sorted by x so
that painting only touches the visible time window, and a single
``QPainter.drawPixmapFragments`` call, as ``ScatterPlotItem`` itself paints. Building it, or
giving it new points (:meth:`BinScatterItem.setData`, as the viewer does for each window), is a
copy of two arrays.
"""

from __future__ import annotations

import numpy as np
from pyqtgraph.Qt.internals import PrimitiveArray

from driftqc.interactive._qt import QtCore, QtGui, pg


class BinScatterItem(pg.GraphicsObject):
    """Points of one colour and size, in data coordinates, sized in screen pixels.

    Parameters
    ----------
    x, y
        (n,) point coordinates (data units).
    color
        Fill colour (anything ``pg.mkColor`` accepts).
    size
        Disc diameter in screen pixels.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, color: object, size: float) -> None:
        super().__init__()
        self._color = pg.mkColor(color)
        self._size = float(size)
        self._pixmaps: dict[float, QtGui.QPixmap] = {}
        self._fragments = PrimitiveArray(QtGui.QPainter.PixmapFragment, 10)
        self._x = self._y = np.zeros(0)
        self._bounds = ((0.0, 0.0), (0.0, 0.0))
        self._store(x, y, presorted=False)

    def setData(self, x: np.ndarray, y: np.ndarray, *, presorted: bool = False) -> None:  # noqa: N802 - pyqtgraph's name
        """Replace the points.

        Parameters
        ----------
        x, y
            (n,) point coordinates (data units).
        presorted
            The caller guarantees ``x`` is sorted (ascending): no sort is done.
        """
        self.prepareGeometryChange()
        self._store(x, y, presorted=presorted)
        self.informViewBoundsChanged()
        self.update()

    def _store(self, x: np.ndarray, y: np.ndarray, *, presorted: bool) -> None:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"x {x.shape} and y {y.shape} must be 1-D of equal length")
        if not presorted:
            order = np.argsort(x, kind="stable")
            x, y = x[order], y[order]
        self._x, self._y = x, y
        if len(x):
            self._bounds = (
                (float(x[0]), float(x[-1])),
                (float(np.min(y)), float(np.max(y))),
            )
        else:
            self._bounds = ((0.0, 0.0), (0.0, 0.0))

    def __len__(self) -> int:
        return len(self._x)

    @property
    def color(self) -> QtGui.QColor:
        """The fill colour of every point."""
        return QtGui.QColor(self._color)

    @property
    def size(self) -> float:
        """Disc diameter in screen pixels."""
        return self._size

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802 - pyqtgraph's name
        """Return the points' x and y (sorted by x)."""
        return self._x, self._y

    # -- geometry, as pyqtgraph's ViewBox asks for it --------------------------------------
    def dataBounds(  # noqa: N802 - pyqtgraph's name
        self,
        ax: int,
        frac: float = 1.0,
        orthoRange: object = None,  # noqa: N803
    ) -> tuple[float, float] | tuple[None, None]:
        """Range of the data along axis ``ax`` (0 = x, 1 = y)."""
        if not len(self._x):
            return None, None
        return self._bounds[ax]

    def pixelPadding(self) -> float:  # noqa: N802 - pyqtgraph's name
        """Pixels the discs extend beyond the data bounds."""
        return self._size / 2 + 1

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt's name
        """Return the data bounds grown by the disc radius (converted to data units)."""
        (x0, x1), (y0, y1) = self._bounds
        px, py = self._padding()
        return QtCore.QRectF(x0 - px, y0 - py, x1 - x0 + 2 * px, y1 - y0 + 2 * py)

    def viewTransformChanged(self) -> None:  # noqa: N802 - pyqtgraph's name
        """Zoom changed: the bounding rectangle (in data units) changes with it."""
        self.prepareGeometryChange()
        super().viewTransformChanged()

    def _padding(self) -> tuple[float, float]:
        px_vec, py_vec = self.pixelVectors()
        if px_vec is None:
            return 0.0, 0.0
        pad = self.pixelPadding()
        return px_vec.length() * pad, py_vec.length() * pad

    # -- drawing ---------------------------------------------------------------------------
    def paint(self, painter: QtGui.QPainter, *args: object) -> None:
        """Draw the visible points as copies of one pre-rendered disc."""
        if not len(self._x):
            return
        xs, ys = self._visible()
        if not len(xs):
            return
        transform = painter.transform()
        px = transform.m11() * xs + transform.m21() * ys + transform.m31()
        py = transform.m12() * xs + transform.m22() * ys + transform.m32()
        ratio = painter.device().devicePixelRatioF() if painter.device() else 1.0
        pixmap = self._pixmap(ratio)
        side = pixmap.width() / ratio
        self._fragments.resize(len(px))
        frags = self._fragments.ndarray()
        frags[:, 0] = px
        frags[:, 1] = py
        frags[:, 2:4] = 0.0  # source left, top
        frags[:, 4:6] = side * ratio  # source width, height (pixmap pixels)
        frags[:, 6:8] = 1.0 / ratio  # scale back to logical pixels
        frags[:, 8] = 0.0  # rotation
        frags[:, 9] = 1.0  # opacity
        painter.save()
        painter.resetTransform()
        painter.drawPixmapFragments(*self._fragments.drawargs(), pixmap)
        painter.restore()

    def _visible(self) -> tuple[np.ndarray, np.ndarray]:
        view = self.viewRect()
        if view is None:
            return self._x, self._y
        px, py = self._padding()
        lo = int(np.searchsorted(self._x, view.left() - px, side="left"))
        hi = int(np.searchsorted(self._x, view.right() + px, side="right"))
        xs, ys = self._x[lo:hi], self._y[lo:hi]
        bottom, top = sorted((view.top(), view.bottom()))
        if self._bounds[1][0] >= bottom - py and self._bounds[1][1] <= top + py:
            return xs, ys
        keep = (ys >= bottom - py) & (ys <= top + py)
        return xs[keep], ys[keep]

    def _pixmap(self, ratio: float) -> QtGui.QPixmap:
        pixmap = self._pixmaps.get(ratio)
        if pixmap is None:
            pixmap = _disc(self._size, self._color, ratio)
            self._pixmaps[ratio] = pixmap
        return pixmap


def _disc(size: float, color: QtGui.QColor, ratio: float) -> QtGui.QPixmap:
    """Render an antialiased filled disc of ``size`` logical pixels on a transparent square."""
    side = max(int(np.ceil((size + 2) * ratio)), 1)
    image = QtGui.QImage(side, side, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    painter.setPen(QtCore.Qt.PenStyle.NoPen)
    painter.setBrush(QtGui.QBrush(color))
    radius = size * ratio / 2
    painter.drawEllipse(QtCore.QPointF(side / 2, side / 2), radius, radius)
    painter.end()
    return QtGui.QPixmap.fromImage(image)
