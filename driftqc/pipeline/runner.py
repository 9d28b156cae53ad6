"""Finding driftqc's Snakemake workflow and running it.

The workflow (root ``Snakefile``, ``workflow/``, ``config/``, ``profiles/``) lives at the top
of the repository. A wheel carries the same files inside the package as
``driftqc/_workflow/``, so a driftqc installed without a clone can still run its workflow.
:func:`workflow_root` looks for the packaged copy first and falls back to the repository
that this module sits in (a clone, or an editable install of one).

:func:`run_workflow` runs Snakemake as a separate process, exactly as a user would on the
command line, in the current directory (where ``results/`` and ``logs/`` are written). The
workflow's own default configuration (the synthetic demo) is used unless a config file is
given or the working directory has a ``config/config.yaml`` of its own. Each
``--configfile`` is checked first (:func:`check_configfile`): Snakemake reads them before the
workflow starts, so only this wrapper can replace its traceback with one line. The workflow
validates the configuration itself with :func:`config_problems`, one line per problem.
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
    ConfigFileError
        If a ``--configfile`` is missing or is not a config (e.g. a sessions list), before
        Snakemake starts (:func:`check_configfile`).

    Examples
    --------
    >>> run_workflow(["--configfile", "config/config.yaml", "--cores", "4"])  # doctest: +SKIP
    0
    """
    try:
        import snakemake  # noqa: F401
    except ModuleNotFoundError:
        raise MissingExtraError("workflow", "snakemake", "driftqc run") from None
    for configfile in configfiles_in(snakemake_args):
        check_configfile(Path(workdir) / configfile)
    command = snakemake_command(snakemake_args, workdir=workdir)
    return subprocess.run(command, cwd=workdir, check=False).returncode


# ---------------------------------------------------------------- configuration messages
# A config problem is one line naming the entry (``render.dpi``) and what is allowed there;
# jsonschema's full report (the schema it failed, the instance) goes to a log file only.


class ConfigFileError(DriftQCError):
    """A ``--configfile`` is missing, unreadable, or not a configuration mapping."""


def check_configfile(path: Path | str) -> None:
    """Check a config file before Snakemake reads it; raise a one-line error if it cannot be.

    Snakemake parses ``--configfile`` before the workflow runs, so its own messages are a
    traceback (missing file) or "must be given as JSON or YAML with keys at top level" (a
    list). This says which file, and for a list of sessions, what to put in a config.

    Raises
    ------
    ConfigFileError
        If the file does not exist, is not valid YAML, or holds no mapping; a list that looks
        like a sessions list is named as such, with the line to put in a config instead.
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigFileError(f"config file {path} does not exist")
    if path.is_dir():
        raise ConfigFileError(f"config file {path} is a folder; give the YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = " ".join(str(exc).split())
        raise ConfigFileError(f"config file {path} is not valid YAML: {first}") from None
    if isinstance(data, dict):
        return
    if (
        isinstance(data, list)
        and data
        and all(isinstance(e, dict) and ("path" in e or "id" in e) for e in data)
    ):
        raise ConfigFileError(
            f"{path} looks like a sessions list, not a config; put it in a config file as "
            f"the one line `sessions: {path}` (or make one: driftqc init ROOT)"
        )
    found = "an empty file" if data is None else f"a {type(data).__name__}"
    raise ConfigFileError(
        f"config file {path} must be a YAML mapping of options (e.g. `sessions: FILE`), "
        f"found {found}"
    )


def configfiles_in(snakemake_args: Sequence[str]) -> list[str]:
    """Return the files given with ``--configfile``/``--configfiles`` to snakemake."""
    files, taking = [], False
    for arg in snakemake_args:
        name, eq, value = arg.partition("=")
        if name in ("--configfile", "--configfiles"):
            if eq:
                files.append(value)
                taking = False
            else:
                taking = True
            continue
        if taking and arg.startswith("-"):
            taking = False
        if taking:
            files.append(arg)
    return files


def config_problems(config: dict, schema: dict) -> list[tuple[str, str]]:
    """Validate ``config`` against ``schema``, filling in defaults as Snakemake's ``validate``.

    Returns
    -------
    list of (str, str)
        Per problem: one line naming the entry and what is allowed, and jsonschema's full
        report. Empty when the config is valid (its defaults are then filled in).
    """
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001, ANN202
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, _copy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    validator = validators.extend(Draft202012Validator, {"properties": set_defaults})(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.path])
    return [(config_error_line(e), str(e)) for e in errors]


def config_error_line(error: object, where: str = "config") -> str:
    """One line for a jsonschema ``ValidationError``: the entry, the problem, what is allowed.

    ``where`` names what was validated; the entry's path follows it (``config
    'render.dpi': ...``). An unknown key gives a line per unknown key.
    """
    name = _dotted(list(error.absolute_path))  # type: ignore[attr-defined]
    at = f"{where} '{name}'" if name else where
    return "\n".join(f"{at}: {text}" for text in config_problem_texts(error))


def config_problem_texts(error: object) -> list[str]:
    """Describe a jsonschema ``ValidationError`` in words, without naming where it is."""
    import difflib

    kind = error.validator  # type: ignore[attr-defined]
    schema = error.schema  # type: ignore[attr-defined]
    instance = error.instance  # type: ignore[attr-defined]
    message = error.message  # type: ignore[attr-defined]
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        texts = []
        for key in (k for k in instance if k not in allowed):
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            texts.append(f"key '{key}' was unexpected{hint}; allowed keys: {', '.join(allowed)}")
        return texts
    if kind == "required":
        hint = ""
        if not list(error.absolute_path) and "'sessions'" in message:  # type: ignore[attr-defined]
            hint = " (add `sessions: FILE`; make one with driftqc sessions ROOT -o FILE)"
        return [f"{message}{hint}"]
    if kind == "enum":  # the message lists the values already
        return [message]
    if kind in ("oneOf", "anyOf"):
        message = f"{instance!r} is not allowed"
    allowed = describe_schema(schema)
    return [message + (f"; allowed: {allowed}" if allowed else "")]


def describe_schema(schema: dict) -> str:
    """Describe in words the values a (sub)schema allows, e.g. ``an integer from 30 to 1200``."""
    if not isinstance(schema, dict):
        return ""
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts = [describe_schema(s) for s in schema[key]]
            return " or ".join(p for p in parts if p)
    if "enum" in schema:
        return " | ".join(_yaml_text(v) for v in schema["enum"])
    if "const" in schema:
        return _yaml_text(schema["const"])
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    words = {"integer": "an integer", "number": "a number", "string": "text",
             "boolean": "true | false", "null": "null", "object": "a mapping",
             "array": "a list"}  # fmt: skip
    text = " or ".join(words.get(k, k) for k in kinds)
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum")
    if low is not None and high is not None:
        text += f" from {low} to {high}"
    elif "exclusiveMinimum" in schema:
        text += f" above {schema['exclusiveMinimum']}"
    elif low is not None:
        text += f" >= {low}"
    if "array" in kinds:
        n_min, n_max = schema.get("minItems"), schema.get("maxItems")
        if n_min is not None and n_min == n_max:
            text += f" of {n_min}"
        items = describe_schema(schema.get("items", {}))
        if items:
            text += f" ({items})"
    if "pattern" in schema and "description" in schema:
        text += f" ({' '.join(schema['description'].split())})"
    return text


def _dotted(path: Sequence[object]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _yaml_text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _copy(value: object) -> object:
    import copy

    return copy.deepcopy(value)
