"""Reading a Kilosort / Phy ``params.py`` without executing it.

``params.py`` is a short Python file of ``name = literal`` lines written by the sorter
(``dat_path``, ``n_channels_dat``, ``dtype``, ``offset``, ``sample_rate``, ``hp_filtered`` and
sometimes ``gain``). It lives in a data folder, so it is parsed, never run: every assignment
whose value is a literal (numbers, strings, raw strings, lists, tuples, dicts, ``True``,
``None``) is kept, and anything else (a call, an import, arithmetic) is refused with a message.
"""

from __future__ import annotations

import ast
from pathlib import Path

from driftqc.errors import SortingFormatError


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
        If the file is missing, is not valid Python, contains statements other than literal
        assignments, or lacks a positive numeric ``sample_rate``.

    Examples
    --------
    >>> read_params(Path("sorter_output/params.py"))["sample_rate"]  # doctest: +SKIP
    30000.0
    """
    path = Path(path)
    if not path.is_file():
        raise SortingFormatError(f"params.py is missing from {path.parent}")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except SyntaxError as exc:
        raise SortingFormatError(f"{path} is not valid Python (line {exc.lineno})") from None
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
        except ValueError:
            raise SortingFormatError(
                f"{path}, line {node.lineno}: the value of {name!r} is not a literal; "
                "driftqc never runs code from a data folder"
            ) from None
    rate = params.get("sample_rate")
    if rate is None:
        raise SortingFormatError(f"{path} does not define sample_rate")
    try:
        rate = float(rate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SortingFormatError(f"{path}: sample_rate = {rate!r} is not a number") from None
    if not rate > 0:
        raise SortingFormatError(f"{path}: sample_rate = {rate!r} must be positive")
    params["sample_rate"] = rate
    return params
