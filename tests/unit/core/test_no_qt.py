"""No Qt in ``import driftqc``; a missing gui extra names itself (PySide6 blocked, not needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from driftqc.errors import MissingExtraError


def _python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_importing_driftqc_and_its_cli_does_not_import_qt():
    result = _python(
        """
        import sys
        import driftqc
        from driftqc.cli import build_parser
        build_parser()  # imports every subcommand module, view included
        qt_roots = ("PySide6", "pyqtgraph", "shiboken6")
        qt = sorted(m for m in sys.modules if m.split(".")[0] in qt_roots)
        assert not qt, qt
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


BLOCK_PYSIDE = """
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "PySide6":
                raise ImportError(f"No module named {name!r} (blocked)", name=name)
            return None
    sys.meta_path.insert(0, Block())
"""


@pytest.mark.parametrize("entry", ["import driftqc.interactive", "driftqc.DriftmapPlotWidget"])
def test_without_the_gui_extra_the_error_names_it(entry):
    result = _python(
        BLOCK_PYSIDE
        + f"""
    import driftqc
    from driftqc.errors import MissingExtraError
    try:
        {"import driftqc.interactive" if entry.startswith("import") else entry}
    except MissingExtraError as exc:
        print(exc)
    else:
        raise SystemExit("no error")
    """
    )
    assert result.returncode == 0, result.stderr
    assert "The interactive viewer needs the optional dependency 'PySide6'" in result.stdout
    assert "pip install 'driftqc[gui]'" in result.stdout
    assert issubclass(MissingExtraError, ImportError)
