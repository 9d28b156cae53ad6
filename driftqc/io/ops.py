"""Reading Kilosort 4's ``ops.npy`` through a restricted unpickler.

Kilosort 4 saves its run settings and intermediate results as a pickled dict in ``ops.npy``
(``np.save`` of an object array). Unpickling untrusted data can run arbitrary code, so this
module admits only what such a dict legitimately holds: numpy arrays, dtypes and scalars,
plain Python containers and scalars, and path objects. Anything else (a torch tensor, a
function) is refused with a message naming the class, and nothing from the file is executed.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.io.npy import read_header

_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("builtins", "slice"),
        ("builtins", "complex"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("collections", "OrderedDict"),
        # paths are inert values; Kilosort 4 stores its file names as pathlib objects
        *(
            (module, cls)
            for module in ("pathlib", "pathlib._local")
            for cls in ("PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath")
        ),
    }
)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_ops(path: Path) -> dict[str, object]:
    """Load Kilosort 4's ``ops.npy`` dict without executing anything from it.

    Raises
    ------
    SortingFormatError
        If the file is missing, is not an ``.npy`` pickle of a dict, or references a class
        outside numpy arrays and plain containers.
    """
    path = Path(path)
    if not path.is_file():
        raise SortingFormatError(f"{path.name} is missing from {path.parent}")
    try:
        with path.open("rb") as fh:
            read_header(fh)
            payload = fh.read()
        obj = _RestrictedUnpickler(io.BytesIO(payload)).load()
    except pickle.UnpicklingError as exc:
        raise SortingFormatError(
            f"{path}: {exc}; only numpy arrays and plain values are read"
        ) from None
    except (ValueError, EOFError, OSError, TypeError, AttributeError, NotImplementedError) as exc:
        raise SortingFormatError(f"{path} is not a readable ops.npy ({exc})") from None
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.size == 1:
        obj = obj.item()
    if not isinstance(obj, dict):
        raise SortingFormatError(f"{path} does not hold a dict (found {type(obj).__name__})")
    return obj
