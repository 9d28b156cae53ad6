"""Safe, bounded-memory access to ``.npy`` files of a sorter output folder.

Arrays are read from the file's raw bytes after parsing the ``.npy`` header, so pickled object
arrays are refused (nothing in a data folder is ever executed) and a truncated or corrupt file
is reported with its name instead of a traceback from inside numpy. Large arrays
(``pc_features.npy`` is 384 bytes per spike) are read a range of rows at a time
(:func:`read_rows`), or mapped a range at a time (:func:`map_rows`) when they are only
reduced or converted, so memory does not grow with the file.
"""

from __future__ import annotations

import math
import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from driftqc.errors import SortingFormatError


@dataclass(frozen=True)
class NpyFile:
    """Header of a ``.npy`` file: where its data start and what shape they have."""

    path: Path
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int

    @property
    def row_bytes(self) -> int:
        """Bytes per row (first axis) of the array."""
        # Python integers: a forged header's shape must not wrap around in int64
        return math.prod(self.shape[1:]) * self.dtype.itemsize

    @property
    def n_rows(self) -> int:
        """Length of the first axis."""
        return self.shape[0] if self.shape else 1


def read_header(fh: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Read a ``.npy`` header from an open file: shape, Fortran order, dtype.

    Leaves the file at the start of the data. Raises ``ValueError`` for a non-``.npy`` file.
    """
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version in ((2, 0), (3, 0)):  # 3.0 only allows utf-8 field names, which we refuse
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"unknown .npy format version {version}")


def open_npy(path: Path) -> NpyFile:
    """Parse and check the header of a ``.npy`` file.

    Raises
    ------
    SortingFormatError
        If the file is missing, is not a ``.npy`` file, holds Python objects, or is shorter
        than its header says.
    """
    path = Path(path)
    if not path.is_file():
        raise SortingFormatError(f"{path.name} is missing from {path.parent}")
    try:
        with path.open("rb") as fh:
            shape, fortran, dtype = read_header(fh)
            offset = fh.tell()
    except (ValueError, OSError, SyntaxError) as exc:
        raise SortingFormatError(f"{path} is not a valid .npy file ({exc})") from None
    if dtype.hasobject:
        raise SortingFormatError(
            f"{path} holds Python objects (a pickle); driftqc only reads numeric arrays"
        )
    header = NpyFile(path, tuple(int(s) for s in shape), dtype, bool(fortran), offset)
    expected = header.n_rows * header.row_bytes
    found = path.stat().st_size - offset
    if found < expected:
        raise SortingFormatError(
            f"{path} is truncated: its header promises shape {header.shape} "
            f"({expected} bytes of {dtype}) but the file holds {found} bytes of data"
        )
    return header


NUMERIC_KINDS = "biuf"


def load_npy(path: Path, *, kinds: str = NUMERIC_KINDS, what: str = "numbers") -> np.ndarray:
    """Load a whole ``.npy`` file without pickle, checking it first (see :func:`open_npy`).

    Parameters
    ----------
    path
        The file.
    kinds
        The numpy dtype kinds accepted (default: booleans and numbers); a file holding
        anything else, e.g. strings that numpy would parse as numbers, is refused.
    what
        What the file should hold, for that message.
    """
    header = open_npy(path)
    check_kind(header, kinds, what)
    count = header.n_rows * (header.row_bytes // max(header.dtype.itemsize, 1))
    with header.path.open("rb") as fh:
        fh.seek(header.offset)
        data = np.fromfile(fh, dtype=header.dtype, count=count)
    if header.fortran_order:
        return data.reshape(header.shape[::-1]).T
    return data.reshape(header.shape)


def check_kind(header: NpyFile, kinds: str, what: str) -> NpyFile:
    """Refuse a file whose dtype kind is not one of ``kinds`` (``what`` says what is expected).

    Raises
    ------
    SortingFormatError
        Naming the file, the expected content and the dtype found.
    """
    if header.dtype.kind not in kinds:
        raise SortingFormatError(f"{header.path} should hold {what}, found dtype {header.dtype}")
    return header


def open_vector(path: Path, *, length: int | None = None) -> NpyFile:
    """Open a per-spike array saved as (n,) or (n, 1), checking its shape and length.

    Raises
    ------
    SortingFormatError
        If the array is not of one of those shapes or not of the expected length.
    """
    header = open_npy(path)
    shape = header.shape
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        raise SortingFormatError(
            f"{path} should hold one value per spike, shape (n,) or (n, 1); found shape {shape}"
        )
    if length is not None and shape[0] != length:
        raise SortingFormatError(
            f"{path} holds {shape[0]} values but the folder has {length} spikes"
        )
    return header


def read_rows(header: NpyFile, start: int, stop: int) -> np.ndarray:
    """Read rows ``start:stop`` of a C-ordered ``.npy`` file into a new array."""
    if header.fortran_order:
        raise SortingFormatError(
            f"{header.path} is saved in Fortran order; re-save it in C order to stream it"
        )
    stop = min(stop, header.n_rows)
    out = np.empty((max(stop - start, 0), *header.shape[1:]), dtype=header.dtype)
    want = out.nbytes
    if want:
        with header.path.open("rb", buffering=0) as fh:
            fh.seek(header.offset + start * header.row_bytes)
            got = fh.readinto(memoryview(out.reshape(-1).view(np.uint8)))
        if got != want:
            raise SortingFormatError(f"{header.path} ended early at row {start}")
    return out


def map_rows(header: NpyFile, start: int, stop: int, fd: int | None = None) -> np.ndarray:
    """Map rows ``start:stop`` of a C-ordered ``.npy`` file as a read-only array.

    Converting or reducing mapped rows reads the page cache directly, with no intermediate
    copy. The mapping is released when the array and every view of it are gone, so keep
    them no longer than the conversion.

    Parameters
    ----------
    header
        The file, as returned by :func:`open_npy`.
    start, stop
        Row range (``stop`` is clipped to the file's rows).
    fd
        An open descriptor of the file, to spare reopening it for every range.

    Raises
    ------
    SortingFormatError
        If the file is in Fortran order or can no longer be mapped (it shrank after it was
        checked).
    """
    if header.fortran_order:
        raise SortingFormatError(
            f"{header.path} is saved in Fortran order; re-save it in C order to stream it"
        )
    stop = max(min(stop, header.n_rows), start)
    shape = (stop - start, *header.shape[1:])
    if stop == start or header.row_bytes == 0:
        return np.empty(shape, dtype=header.dtype)
    begin = header.offset + start * header.row_bytes
    aligned = begin - begin % mmap.ALLOCATIONGRANULARITY
    try:
        if fd is None:
            with header.path.open("rb") as fh:  # the mapping keeps its own descriptor
                mapping = _map(fh.fileno(), aligned, header.offset + stop * header.row_bytes)
        else:
            mapping = _map(fd, aligned, header.offset + stop * header.row_bytes)
    except (OSError, ValueError) as exc:
        raise SortingFormatError(f"{header.path} could not be read ({exc})") from None
    count = (stop - start) * header.row_bytes // header.dtype.itemsize
    return np.frombuffer(mapping, header.dtype, count, begin - aligned).reshape(shape)


def _map(fd: int, begin: int, end: int) -> mmap.mmap:
    return mmap.mmap(
        fd,
        end - begin,
        flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
        prot=mmap.PROT_READ,
        offset=begin,
    )


def as_ids(values: np.ndarray, path: Path) -> np.ndarray:
    """Return per-spike template or cluster ids as int32, checked.

    Raises
    ------
    SortingFormatError
        Naming ``path``, for fractional, negative or too large ids.
    """
    values = values.reshape(-1)
    if len(values) == 0:
        return values.astype(np.int32)
    if values.dtype.kind == "f" and not (
        np.isfinite(values).all() and np.all(values == np.round(values))
    ):
        raise SortingFormatError(f"{path} should hold integer ids, found {values.dtype}")
    if values.min() < 0:
        raise SortingFormatError(f"{path} holds negative ids (smallest {int(values.min())})")
    if values.max() > np.iinfo(np.int32).max:
        raise SortingFormatError(f"{path} holds ids too large to be template or cluster ids")
    if values.dtype == np.uint32:
        return values.view(np.int32)  # every value fits, so the bits are the same
    return values.astype(np.int32, copy=False)
