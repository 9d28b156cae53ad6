"""The package's layers, and a check that no module imports from a layer above its own.

driftqc is built in layers; each may import only from its own layer and the ones listed
before it, so that I/O, computation and rendering can each be used and tested alone:

1. **model**: the frozen data, error types, option objects and small text helpers;
2. **geometry**: probe geometry computed from arrays (peak channels, shanks, template depths)
   and depth frames (raw / registered), which readers use as well;
3. **io**: readers (one per input kind) and what they know about file formats;
4. **selection**: the one filter chain, for whole tables and for chunks;
5. **metrics**, then **qc**: analysis returning plain results, and the verdicts on them;
6. **views**: data prepared for drawing (grey levels, scales), shared by both back ends;
7. **plotting** (matplotlib) and **interactive** (Qt), which never import each other;
8. **pipeline**: the cache format, session lists and the workflow's steps;
9. **front doors**: ``DriftPlotter``, ``get_amplitudes``, the command line, demo data.

Run ``python -m driftqc._layers`` to list the imports that break the order (exit 1 if any);
the test suite runs the same check.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

#: layer name → module prefixes (dotted, relative to ``driftqc``), in import order
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("errors", "model", "options", "progress", "text")),
    ("geometry", ("geometry", "frames")),
    ("io", ("io",)),
    ("selection", ("selection",)),
    ("metrics", ("metrics",)),
    ("qc", ("qc",)),
    ("views", ("views",)),
    ("rendering", ("plotting", "interactive")),
    ("pipeline", ("pipeline",)),
    ("front doors", ("plotter", "amplitudes", "synthetic", "cli", "_layers", "__main__", "")),
)
# rendering back ends are siblings: neither may import the other
_SIBLINGS = (("plotting", "interactive"), ("interactive", "plotting"))


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of a ``driftqc`` module given relative to the package.

    ``""`` is the package itself (its ``__init__``), a front door.
    """
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or (prefix and module.startswith(prefix + ".")):
                return index
    raise KeyError(f"driftqc.{module} is in no layer of driftqc._layers.LAYERS")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``driftqc`` module a source file imports, lazily or not."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "driftqc":
            # "from driftqc import geometry" names a module, "... import DriftPlotter" the package
            names = [f"driftqc.{a.name}" if _is_module(a.name) else "driftqc" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            if name == "driftqc" or name.startswith("driftqc."):
                found.append((node.lineno, name.removeprefix("driftqc").lstrip(".")))
    return found


def module_name(path: Path) -> str:
    """Return the module a file under the package defines, relative to ``driftqc``."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def violations() -> list[str]:
    """Every import that runs up the layers or across the rendering back ends."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_workflow" in path.relative_to(PACKAGE).parts:
            continue  # the packaged copy of the Snakemake workflow
        module = module_name(path)
        own = layer_of(module)
        for line, target in imports_of(path):
            where = f"driftqc/{path.relative_to(PACKAGE)}:{line}"
            theirs = layer_of(target)
            if theirs > own:
                problems.append(
                    f"{where}: {LAYERS[own][0]} module driftqc.{module} imports "
                    f"driftqc.{target} from the {LAYERS[theirs][0]} layer above it"
                )
            for mine, other in _SIBLINGS:
                if _under(module, mine) and _under(target, other):
                    problems.append(f"{where}: driftqc.{module} imports driftqc.{target}")
    return problems


def _is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def main() -> int:
    """Print the violations; return 1 if there are any."""
    problems = violations()
    for problem in problems:
        print(problem)
    print(f"{len(problems)} import(s) against the layer order" if problems else "layers: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
