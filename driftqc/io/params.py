"""Reading a Kilosort / Phy ``params.py`` without executing it.

``params.py`` is a short Python file of ``name = literal`` lines written by the sorter
(``dat_path``, ``n_channels_dat``, ``dtype``, ``offset``, ``sample_rate``, ``hp_filtered`` and
sometimes ``gain``). It lives in a data folder, so it is parsed, never run: every assignment
whose value is a literal (numbers, strings, raw strings, lists, tuples, dicts, ``True``,
``None``) is kept, and anything else (a call, an import, arithmetic) is refused with a message.
"""

from __future__ import annotations

import ast
import contextlib
import math
from pathlib import Path

from driftqc.errors import SortingFormatError

#: sampling rates a spike sorter's recording can plausibly have (Hz); Neuropixels: 30 kHz
PLAUSIBLE_RATES_HZ = (1_000.0, 1_000_000.0)
# a sorter writes a few hundred bytes; anything far larger is not a params.py
_MAX_BYTES = 1 << 20


def read_params(path: Path) -> dict[str, object]:
    """Parse ``params.py`` into a dict of its literal assignments.

    Parameters
    ----------
    path
        The ``params.py`` file.

    Returns
    -------
    dict
        ``name -> value`` for every ``name = literal`` line.

    Raises
    ------
    SortingFormatError
        If the file is missing or larger than 1 MiB, is not valid Python, contains
        statements other than literal assignments, or lacks a ``sample_rate`` between 1 kHz
        and 1 MHz (a boolean is not a rate).

    Examples
    --------
    >>> read_params(Path("sorter_output/params.py"))["sample_rate"]  # doctest: +SKIP
    30000.0
    """
    path = Path(path)
    if not path.is_file():
        raise SortingFormatError(f"params.py is missing from {path.parent}")
    if path.stat().st_size > _MAX_BYTES:
        raise SortingFormatError(
            f"{path} is {path.stat().st_size} bytes; a sorter's params.py is a few lines"
        )
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except SyntaxError as exc:
        raise SortingFormatError(f"{path} is not valid Python (line {exc.lineno})") from None
    except (RecursionError, MemoryError):
        raise SortingFormatError(f"{path} is nested too deeply to be a params.py") from None
    params: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or stray string
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            raise SortingFormatError(
                f"{path}, line {node.lineno}: only 'name = value' lines are allowed; "
                "driftqc never runs code from a data folder"
            )
        name = node.targets[0].id
        try:
            params[name] = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise SortingFormatError(
                f"{path}, line {node.lineno}: the value of {name!r} is not a literal; "
                "driftqc never runs code from a data folder"
            ) from None
    params["sample_rate"] = _sample_rate(params.get("sample_rate"), path)
    return params


def _sample_rate(value: object, path: Path) -> float:
    if value is None:
        raise SortingFormatError(f"{path} does not define sample_rate")
    rate = math.nan
    if not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            rate = float(value)  # type: ignore[arg-type]
    if math.isnan(rate):
        raise SortingFormatError(f"{path}: sample_rate = {value!r} is not a number")
    low, high = PLAUSIBLE_RATES_HZ
    if not low <= rate <= high:
        raise SortingFormatError(
            f"{path}: sample_rate = {value!r} Hz is not a plausible sampling rate "
            f"(expected {low:g} to {high:g} Hz; Neuropixels record at 30000)"
        )
    return rate
