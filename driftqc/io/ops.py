"""Reading Kilosort 4's ``ops.npy`` through a restricted unpickler.

Kilosort 4 saves its run settings and intermediate results as a pickled dict in ``ops.npy``
(``np.save`` of a 0-d object array holding the dict). Unpickling untrusted data can run
arbitrary code or allocate arbitrary memory, so this module admits only what such a dict
legitimately holds:

* dicts, lists, tuples, strings, numbers, booleans and None;
* numpy arrays of numeric, boolean or string dtype, and numpy scalars;
* path objects (Kilosort 4 may store file names as :mod:`pathlib` paths; a path is inert).

Nothing else can be built: a class outside that list (a torch tensor, a function,
``bytearray``, ``set``) is refused by name before it is created. The file is decoded by the
pure-Python unpickler, which reads length-prefixed data from the file's bytes instead of
allocating what a length field claims, and every array the pickle asks numpy to create is
checked against a size cap derived from the file size, so a 100-byte file cannot ask for
gigabytes. After decoding, every value is checked once more; an object array anywhere but at
the top level is refused with the key that holds it.
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.io.npy import read_header

# Kilosort 4 writes ops.npy of a few MB (whitening matrix, PCA bases, drift estimate)
MAX_OPS_BYTES = 256 * 2**20
_ARRAY_KINDS = "biufcUS"  # bool, integers, floats, complex, strings
_PATHS = frozenset(
    (module, cls)
    for module in ("pathlib", "pathlib._local")
    for cls in ("PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath")
)
_NUMPY_MODULES = ("numpy.core", "numpy._core")


class _RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """Pure-Python unpickler that builds only inert values of bounded size."""

    def __init__(self, payload: bytes, max_bytes: int) -> None:
        super().__init__(io.BytesIO(payload))
        self._max_bytes = max_bytes

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _PATHS:
            return super().find_class(module, name)
        if module == "numpy" and name == "dtype":
            return _checked_dtype
        if module == "numpy" and name == "ndarray":
            return _NdarrayType
        if module in (f"{m}.multiarray" for m in _NUMPY_MODULES):
            if name == "_reconstruct":
                return self._reconstruct
            if name == "scalar":
                return _scalar
        if module in (f"{m}.numeric" for m in _NUMPY_MODULES) and name == "_frombuffer":
            return _frombuffer
        if module == "collections" and name == "OrderedDict":
            return dict
        raise pickle.UnpicklingError(f"refusing to build {module}.{name}")

    def _reconstruct(self, subtype: object, shape: object, dtype: object) -> np.ndarray:
        # numpy pickles an array as an empty one plus a __setstate__ carrying its data; the
        # empty one's shape comes from the file, so it is capped like everything else
        if subtype is not _NdarrayType:
            raise pickle.UnpicklingError("refusing an ndarray subclass")
        dims = _shape(shape)
        dtype = dtype if isinstance(dtype, np.dtype) else _checked_dtype(dtype)
        if math.prod(dims) * max(dtype.itemsize, 1) > self._max_bytes:
            raise pickle.UnpicklingError(f"an array of shape {dims} is larger than the file")
        return np.ndarray(dims, dtype)


class _NdarrayType:
    """Stands for ``numpy.ndarray`` in a pickle: only :meth:`_reconstruct` may use it.

    Handing out the real class would let a pickle call ``numpy.ndarray(shape)`` directly,
    allocating whatever shape it names.
    """

    def __init__(self, *args: object) -> None:
        raise pickle.UnpicklingError("refusing to call numpy.ndarray directly")


def _checked_dtype(spec: object, align: object = False, copy: object = False) -> np.dtype:
    if not isinstance(spec, str | bytes):
        raise pickle.UnpicklingError(f"refusing a dtype built from {type(spec).__name__}")
    dtype = np.dtype(spec.decode("ascii") if isinstance(spec, bytes) else spec)
    if dtype.kind not in _ARRAY_KINDS + "O":
        raise pickle.UnpicklingError(f"refusing arrays of dtype {dtype}")
    return dtype


def _scalar(dtype: object, data: object = b"") -> object:
    if not isinstance(dtype, np.dtype) or dtype.kind not in _ARRAY_KINDS:
        raise pickle.UnpicklingError(f"refusing a numpy scalar of dtype {dtype}")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("a numpy scalar does not match its dtype")
    return np.frombuffer(data, dtype=dtype)[0]


def _frombuffer(buffer: object, dtype: object, shape: object, order: object) -> np.ndarray:
    if not isinstance(dtype, np.dtype) or dtype.kind not in _ARRAY_KINDS:
        raise pickle.UnpicklingError(f"refusing arrays of dtype {dtype}")
    array = np.frombuffer(buffer, dtype=dtype)  # type: ignore[call-overload]
    return array.reshape(_shape(shape), order="F" if order == "F" else "C")


def _shape(shape: object) -> tuple[int, ...]:
    if not isinstance(shape, tuple) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise pickle.UnpicklingError(f"refusing an array shape {shape!r}")
    return shape


def read_ops(path: Path) -> dict[str, object]:
    """Load Kilosort 4's ``ops.npy`` dict without executing anything from it.

    Parameters
    ----------
    path
        The ``ops.npy`` file.

    Returns
    -------
    dict
        The settings and results Kilosort 4 saved, as plain values and numeric arrays.

    Raises
    ------
    SortingFormatError
        If the file is missing, larger than :data:`MAX_OPS_BYTES`, is not an ``.npy`` pickle
        of a dict, references a class outside numeric arrays and plain values, or asks for
        more memory than its size justifies. The message names the file and the key or
        class at fault.

    Notes
    -----
    The cap on what one array may allocate is four times the file size plus 1 MiB: a real
    array's data are in the file, so only a forged header can ask for more.

    Examples
    --------
    >>> ops = read_ops(Path("kilosort4/ops.npy"))  # doctest: +SKIP
    >>> ops["dshift"].shape  # doctest: +SKIP
    (30, 1)
    """
    path = Path(path)
    if not path.is_file():
        raise SortingFormatError(f"{path.name} is missing from {path.parent}")
    size = path.stat().st_size
    if size > MAX_OPS_BYTES:
        raise SortingFormatError(
            f"{path} is {size / 2**20:.0f} MiB; Kilosort 4 writes a few MiB, so it is not read"
        )
    try:
        with path.open("rb") as fh:
            read_header(fh)
            payload = fh.read()
        obj = _RestrictedUnpickler(payload, 4 * size + 2**20).load()
    except pickle.UnpicklingError as exc:
        raise SortingFormatError(
            f"{path}: {exc}; only numeric arrays and plain values are read"
        ) from None
    except (
        ValueError,
        EOFError,
        OSError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        NotImplementedError,
        OverflowError,
        MemoryError,
        RecursionError,
        SyntaxError,
    ) as exc:
        raise SortingFormatError(
            f"{path} is not a readable ops.npy ({type(exc).__name__}: {exc})"
        ) from None
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.size == 1:
        obj = obj.reshape(()).item()
    if not isinstance(obj, dict):
        raise SortingFormatError(f"{path} does not hold a dict (found {type(obj).__name__})")
    problem = _first_problem(obj)
    if problem is not None:
        raise SortingFormatError(
            f"{path}: {problem}; only numeric arrays and plain values are read"
        )
    return obj


def _first_problem(ops: dict[str, object]) -> str | None:
    """Describe the first value that is neither a plain value nor a numeric array."""
    stack: list[tuple[str, object]] = [(repr(k), v) for k, v in ops.items()]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{where}[{k!r}]", v) for k, v in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, np.ndarray):
            if value.dtype.kind not in _ARRAY_KINDS:
                return f"key {where} holds an array of dtype {value.dtype}"
        elif not isinstance(value, _PLAIN):
            return f"key {where} holds a value of type {type(value).__name__}"
    return None


_PLAIN: tuple[type, ...] = (str, bytes, int, float, bool, type(None), np.generic, Path)


def ops_number(ops: dict[str, object], key: str, check: Callable[[float], bool]) -> float | None:
    """Return the finite number under ``key`` if it passes ``check``, else None.

    Booleans, strings and arrays of more than one value are not numbers here.
    """
    value = ops.get(key)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        value = value.reshape(()).item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return None
    number = float(value)
    return number if math.isfinite(number) and check(number) else None
