"""Finding driftqc's Snakemake workflow and running it.

The workflow (root ``Snakefile``, ``workflow/``, ``config/``, ``profiles/``) lives at the top
of the repository. A wheel carries the same files inside the package as
``driftqc/_workflow/``, so a driftqc installed without a clone can still run its workflow.
:func:`workflow_root` looks for the packaged copy first and falls back to the repository
that this module sits in (a clone, or an editable install of one).

:func:`run_workflow` runs Snakemake as a separate process, exactly as a user would on the
command line, in the current directory (where ``results/`` and ``logs/`` are written). The
workflow's own default configuration (the synthetic demo) is used unless a config file is
given or the working directory has a ``config/config.yaml`` of its own.
"""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from driftqc.errors import DriftQCError, MissingExtraError

PACKAGED = "_workflow"
_CORE_FLAGS = ("--cores", "-c", "--jobs", "-j", "--lint", "--report", "--list-rules")


def workflow_root() -> Path:
    """Return the folder holding the workflow's root ``Snakefile``.

    Raises
    ------
    DriftQCError
        If neither a packaged copy nor a repository checkout has the workflow.
    """
    candidates = []
    packaged = importlib.resources.files("driftqc") / PACKAGED
    if isinstance(packaged, Path):
        candidates.append(packaged)
    candidates.append(Path(__file__).resolve().parents[2])
    for root in candidates:
        if (root / "Snakefile").is_file() and (root / "workflow" / "Snakefile").is_file():
            return root
    where = " or ".join(str(c) for c in candidates)
    raise DriftQCError(
        f"the driftqc workflow was not found (looked in {where}); reinstall driftqc or run "
        "snakemake from a clone of the repository"
    )


def snakemake_command(
    snakemake_args: Sequence[str] = (),
    *,
    root: Path | None = None,
    workdir: Path | str = ".",
) -> list[str]:
    """Build the command line that runs the workflow.

    Parameters
    ----------
    snakemake_args
        Snakemake options and targets, passed unchanged (e.g. ``["-n"]``). Without a
        ``--configfile``, ``config/config.yaml`` of ``workdir`` is used when it exists, else
        the workflow's own (demo) configuration.
    root
        The workflow folder (default: :func:`workflow_root`).
    workdir
        The folder Snakemake runs in.

    Returns
    -------
    list of str
        ``python -m snakemake --snakefile ... --configfile ... [--cores all] ...``; ``--cores
        all`` is added when ``snakemake_args`` give no ``--cores``/``--jobs``.
    """
    root = root or workflow_root()
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(root / "Snakefile")]
    given = {arg.split("=", 1)[0] for arg in snakemake_args}
    if not given.intersection(("--configfile", "--configfiles")):
        local = Path(workdir) / "config" / "config.yaml"
        configfile = local if local.is_file() else root / "config" / "config.yaml"
        command += ["--configfile", str(configfile.resolve())]
    if not given.intersection(_CORE_FLAGS):
        command += ["--cores", "all"]
    return command + list(snakemake_args)


def run_workflow(snakemake_args: Sequence[str] = (), *, workdir: Path | str = ".") -> int:
    """Run the workflow with Snakemake in ``workdir``; return Snakemake's exit code.

    Raises
    ------
    MissingExtraError
        If Snakemake is not installed (``pip install 'driftqc[workflow]'``).

    Examples
    --------
    >>> run_workflow(["--configfile", "config/config.yaml", "--cores", "4"])  # doctest: +SKIP
    0
    """
    try:
        import snakemake  # noqa: F401
    except ModuleNotFoundError:
        raise MissingExtraError("workflow", "snakemake", "driftqc run") from None
    command = snakemake_command(snakemake_args, workdir=workdir)
    return subprocess.run(command, cwd=workdir, check=False).returncode
