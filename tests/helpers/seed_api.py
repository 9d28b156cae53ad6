"""The driftplots 0.2.2 signatures driftqc keeps (``tests/data/driftplots-0.2.2-api.txt``)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

SEED_API = Path(__file__).resolve().parents[1] / "data" / "driftplots-0.2.2-api.txt"


def seed_signature(name: str) -> list[tuple[str, object]]:
    """(name, default) pairs of a driftplots 0.2.2 function as its API reference writes it."""
    match = re.search(rf"\b{name}\((.*?)\)\[source\]", SEED_API.read_text(encoding="utf-8"))
    assert match, f"{name} is not in {SEED_API}"
    call = ast.parse(f"f({match.group(1)})").body[0].value
    params = [(a.id, inspect.Parameter.empty) for a in call.args]
    params += [(k.arg, ast.literal_eval(k.value)) for k in call.keywords]
    return params


def our_signature(function: object) -> list[tuple[str, object]]:
    """(name, default) pairs of driftqc's function, keyword-only parameters left out."""
    return [
        (p.name, p.default)
        for p in inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        if p.name != "self" and p.kind is not inspect.Parameter.KEYWORD_ONLY
    ]
