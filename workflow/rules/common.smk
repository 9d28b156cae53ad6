# Helpers of the driftqc workflow: configuration and session-list validation, input
# functions, parameters and resource estimates. Rules live in the other .smk files.

import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.settings.types import ExecMode

from driftqc.errors import OptionError, SortingFormatError
from driftqc.io import session_files
from driftqc.io.analyzer import is_analyzer_folder
from driftqc.io.npy import open_npy
from driftqc.metrics import QCThresholds
from driftqc.options import MapStyle, RenderOptions, SelectionOptions
from driftqc.pipeline.runner import config_problem_texts, config_problems
from driftqc.pipeline.summary import failed_sessions, format_failures
from driftqc.pipeline.sessions import (
    SessionsError,
    check_sessions,
    normalise_sessions,
    read_sessions_file,
)

SCHEMAS = Path(workflow.current_basedir.get_path_or_uri(secret_free=True)).parent / "schemas"
CONFIG_LOG = "logs/config_validation.log"


def load_schema(name):
    import yaml

    return yaml.safe_load((SCHEMAS / name).read_text(encoding="utf-8"))


def validate_config(config):
    """Fill in the schema's defaults; return one line per problem (full report: a log).

    Snakemake's ``validate`` prints jsonschema's report, the whole failed schema included
    (150-600 lines), for the first problem only; this names every bad entry and what it
    allows, and writes jsonschema's report to CONFIG_LOG.
    """
    if workflow.modifier.skip_validation:
        return None
    problems = config_problems(config, load_schema("config.schema.yaml"))
    if not problems:
        return None
    log = Path(CONFIG_LOG)
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("\n\n".join(full for _, full in problems) + "\n", encoding="utf-8")
        where = f"(jsonschema's report: {log})"
    except OSError:
        where = ""
    lines = "\n".join(line for line, _ in problems)
    n = len(problems)
    return f"{n} problem{'s' if n > 1 else ''} in the config {where}\n{lines}"


# raised here, not in the function, so that snakemake prints no traceback lines
if (_problems := validate_config(config)) is not None:
    raise WorkflowError(_problems)

# paths of synthetic sessions that rule demo_session writes
DEMO_PATH = re.compile(r"^resources/demo/(none|linear|zigzag|step)-(kilosort2_5|kilosort4)-\d+/?$")
def is_demo_path(path):
    """Whether rule demo_session makes this session folder."""
    return DEMO_PATH.match(str(path)) is not None


def read_session_list(source):
    """Read, normalise and validate the sessions; stop with a message naming a bad entry."""
    if isinstance(source, str):
        where = f"sessions file {source}"
        entries = read_sessions_file(source)
    else:
        where = "config 'sessions'"
        entries = source
    entries = normalise_sessions(entries, where)
    _validate_entries(entries, where)
    check_sessions(entries, where, will_exist=is_demo_path)
    return {entry["id"]: entry for entry in entries}


def _validate_entries(entries, where):
    """Validate against the sessions schema, naming the entry and field in the message."""
    from jsonschema import Draft202012Validator

    schema = load_schema("sessions.schema.yaml")
    validator = Draft202012Validator(schema["properties"]["sessions"]["items"])
    lines = []
    for index, entry in enumerate(entries, start=1):
        name = f" (id '{entry['id']}')" if isinstance(entry.get("id"), str) else ""
        errors = sorted(validator.iter_errors(entry), key=lambda e: [str(p) for p in e.path])
        for error in errors:
            field = ".".join(str(p) for p in error.absolute_path)
            at = f", field '{field}'" if field else ""
            lines += [f"{where}, entry {index}{name}{at}: {text}" for text in
                      config_problem_texts(error)]  # fmt: skip
    if lines:
        raise SessionsError("\n".join(lines))


try:
    SESSIONS = read_session_list(config["sessions"])
except SessionsError as exc:  # at module level: no traceback lines on screen
    raise WorkflowError(str(exc)) from None
SESSION_IDS = list(SESSIONS)
DRIFT_QC = config["drift_qc"]["enabled"]


def check_drift_qc(options):
    """Stop before any job on a reference session that is not listed or bad thresholds."""
    reference = options["reference_session"]
    named = reference.items() if isinstance(reference, dict) else [(None, reference)]
    for subject, sid in named:
        where = "" if subject is None else f".{subject}"
        if sid is not None and str(sid) not in SESSIONS:
            raise WorkflowError(
                f"config 'drift_qc.reference_session{where}': '{sid}' is not a session id "
                f"(ids: {', '.join(SESSION_IDS)})"
            )
        if subject is not None and sid is not None:
            own = SESSIONS[str(sid)].get("subject")
            if own != subject:
                raise WorkflowError(
                    f"config 'drift_qc.reference_session.{subject}': session '{sid}' is of "
                    f"subject {own!r}, not {subject!r}"
                )
    try:
        QCThresholds.from_mapping(options["thresholds"])
    except OptionError as exc:
        raise WorkflowError(f"config 'drift_qc.thresholds': {exc}") from None


check_drift_qc(config["drift_qc"])


def check_options(config):
    """Stop before any job on option values the schema cannot judge (e.g. [99, 1]).

    Each value is checked by the option object that holds it (driftqc.options), one at a
    time so the message names the config key.
    """
    amplitude = config["filters"]["amplitude_filter"]
    render = config["render"]
    checks = {
        "filters.decimate": lambda: SelectionOptions(decimate=config["filters"]["decimate"]),
        "filters.exclude_noise": lambda: SelectionOptions(
            exclude_noise=config["filters"]["exclude_noise"]
        ),
        "render.scaling": lambda: MapStyle(amplitude_cmap_scaling=render["scaling"]),
        "render.n_color_bins": lambda: MapStyle(n_color_bins=render["n_color_bins"]),
        "render.point_size": lambda: MapStyle(point_size=render["point_size"]),
        "render.mode": lambda: RenderOptions(render=render["mode"]),
        "render.density_statistic": lambda: RenderOptions(
            density_statistic=render["density_statistic"]
        ),
        "amplitude_summary.shared_percentiles": lambda: _check_low_below_high(
            config["amplitude_summary"]["shared_percentiles"]
        ),
    }
    if amplitude is not None:
        checks["filters.amplitude_filter.values"] = lambda: SelectionOptions(
            filter_amplitude_mode=amplitude["mode"], filter_amplitude_values=amplitude["values"]
        )
    for name, check in checks.items():
        try:
            check()
        except OptionError as exc:
            raise WorkflowError(f"config '{name}': {exc}") from None


def _check_low_below_high(values):
    low, high = values
    if not low < high:
        raise OptionError(f"{list(values)}: the low percentile must be below the high one")


check_options(config)


wildcard_constraints:
    session="|".join(re.escape(sid) for sid in SESSION_IDS),


# ---------------------------------------------------------------- inputs and params


def session_path(wildcards):
    return SESSIONS[wildcards.session]["path"].rstrip("/")


def sorter_inputs(wildcards):
    """The demo folder (a rule's output), or every file the readers read for the session."""
    path = session_path(wildcards)
    if is_demo_path(path):  # always the folder: its file list must not change once made
        return [path]
    version = SESSIONS[wildcards.session].get("version")
    try:
        return [str(p) for p in session_files(path, version=version)]
    except Exception as exc:  # never stop the whole run: the load step reports the folder
        logger.warning(f"session {wildcards.session}: cannot list the files of {path}: {exc}")
        return [path]


def load_params(wildcards):
    entry = SESSIONS[wildcards.session]
    return {"name": wildcards.session, "version": entry.get("version")}


def filter_params(wildcards):
    opts = config["filters"]
    amplitude = opts["amplitude_filter"] or {}
    return {
        "exclude_noise": opts["exclude_noise"],
        "filter_amplitude_mode": amplitude.get("mode"),
        "filter_amplitude_values": list(amplitude.get("values", [])),
        "decimate": opts["decimate"],
        "frame": SESSIONS[wildcards.session].get("frame") or "saved",
    }


def title_of(sid):
    label = SESSIONS[sid].get("label")
    return f"{sid}: {label}" if label else sid


def session_title(wildcards):
    return title_of(wildcards.session)


def session_titles():
    return {sid: title_of(sid) for sid in SESSION_IDS}


def render_params():
    opts = config["render"]
    scaling = opts["scaling"]
    return {
        "scaling": list(scaling) if isinstance(scaling, list) else scaling,
        "n_color_bins": opts["n_color_bins"],
        "point_size": opts["point_size"],
        "render": opts["mode"],
        "density_statistic": opts["density_statistic"],
    }


def extra_formats():
    return [ext for ext in config["render"]["formats"] if ext != "png"]


def shared_range_input(wildcards):
    """The shared amplitude range, when the shared scale is on."""
    if config["shared_amplitude_scale"]:
        return rules.amplitude_summary.output.shared
    return []


def session_details():
    return {
        sid: {key: entry.get(key) for key in ("subject", "date", "label")}
        for sid, entry in SESSIONS.items()
    }


def drift_qc_params():
    opts = config["drift_qc"]
    return {
        "bin_s": opts["bin_s"],
        "max_shift_um": opts["max_shift_um"],
        "min_spikes_per_bin": opts["min_spikes_per_bin"],
        "events": opts["events"],
        "unit_interval_s": opts["unit_interval_s"],
    }


def drift_qc_inputs(wildcards):
    """Every session's drift QC record, when drift QC is on."""
    if DRIFT_QC:
        return expand(rules.drift_qc.output.record, session=SESSION_IDS)
    return []


def session_shifts_input(wildcards):
    """The between-session shift table, when drift QC is on."""
    return rules.session_shifts.output.table if DRIFT_QC else []


def all_outputs():
    """Every output of a run: each session's figures and records, then the summaries."""
    render, qc = rules.render.output, rules.qc.output
    per_session = [render.drift_map, render.histogram, *render.extra, qc.qc]
    summaries = [
        *rules.qc_summary.output,
        *rules.amplitude_summary.output,
        *rules.grid.output,
    ]
    if DRIFT_QC:
        per_session += list(rules.drift_qc.output)
        summaries += list(rules.session_shifts.output)
    return expand(per_session, session=SESSION_IDS) + summaries


# ---------------------------------------------------------------- resources
# Sized from the session so that a cluster profile can use them: memory and time grow
# with the spike count (read from the size of spike_times.npy, 8 bytes per spike, or of a
# binary analyzer's sorting/spikes.npy, 24 bytes per spike), or with the size of the cached
# files for the later stages; both grow with the attempt.
DEFAULT_SPIKES = 10_000_000


def estimated_spikes(wildcards):
    folder = Path(session_path(wildcards))
    if is_demo_path(session_path(wildcards)) and not folder.is_dir():
        return config["demo"]["n_spikes"]
    if is_analyzer_folder(folder):
        spikes = folder / "sorting" / "spikes.npy"  # binary folder; zarr: unknown
        return _npy_rows(spikes, 24) if spikes.is_file() else DEFAULT_SPIKES
    path = folder / "spike_times.npy"
    if path.is_file():
        return _npy_rows(path, 8)
    if is_demo_path(session_path(wildcards)):
        return config["demo"]["n_spikes"]
    return DEFAULT_SPIKES


def _npy_rows(path, row_bytes):
    """Rows of an .npy file from its header; from its size if the header cannot be read."""
    try:
        return open_npy(path).n_rows
    except SortingFormatError:  # corrupt or truncated: the load step will say so
        return max(path.stat().st_size - 128, 0) // row_bytes


def load_mem_mb(wildcards, attempt):
    return int((500 + 150e-6 * estimated_spikes(wildcards)) * attempt)


def load_runtime(wildcards, attempt):
    return int((5 + estimated_spikes(wildcards) / 2e6) * attempt)


def demo_mem_mb(wildcards, attempt):
    return int((500 + 100e-6 * min(config["demo"]["n_spikes"], 500_000)) * attempt)


def demo_runtime(wildcards, attempt):
    return int((5 + config["demo"]["n_spikes"] / 1e6) * attempt)


def _largest_mb(files):
    sizes = [Path(f).stat().st_size for f in files if Path(f).exists()]
    return max(sizes, default=0) / 1e6


def cached_mem_mb(wildcards, input, attempt):
    """Memory of a step reading cached spikes: a few copies of its largest input."""
    return int((500 + 4 * _largest_mb(input)) * attempt)


def cached_runtime(wildcards, input, attempt):
    return int((5 + _largest_mb(input) / 100) * attempt)


def inputs_mem_mb(wildcards, input, attempt):
    """Memory of a step holding every input at once (e.g. all sessions' selections)."""
    total = sum(Path(f).stat().st_size for f in input if Path(f).exists()) / 1e6
    return int((500 + 2 * total) * attempt)


def summary_runtime(wildcards, input, attempt):
    return int((5 + sum(Path(f).stat().st_size for f in input if Path(f).exists()) / 1e8) * attempt)


# ---------------------------------------------------------------- end of the run
# Sessions whose data were bad do not stop a run (their records say why); the run ends with
# a summary of them and, with fail_on_session_errors (default), a non-zero exit.

PER_SESSION_RULES = ("load", "filter", "qc", "render", "drift_qc")
_failures_reported = False


def session_failures():
    """The failed sessions, from each session's records (QC, drift map, drift QC)."""
    records = {"qc": rules.qc.output.qc, "render": rules.render.output.sidecar}
    if DRIFT_QC:
        records["drift_qc"] = rules.drift_qc.output.record
    logs = {rule: getattr(rules, rule).log[0] for rule in PER_SESSION_RULES}
    return failed_sessions(SESSION_IDS, records, logs)


def report_failed_sessions(fail):
    """Print the summary of failed sessions; raise (non-zero exit) if ``fail`` and any."""
    global _failures_reported
    _failures_reported = True
    failures = session_failures()
    if not failures:
        return
    summary = format_failures(failures, len(SESSION_IDS), table=rules.qc_summary.output.table)
    if fail:
        raise WorkflowError(
            f"{summary}\n(config 'fail_on_session_errors: false' ends such a run with exit 0)"
        )
    logger.warning(summary)


def report_also_when_nothing_to_do(workflow):
    """Make a run with nothing to do report the failed sessions too (and exit non-zero).

    Snakemake calls ``onsuccess`` only after jobs ran: when every output is up to date it
    returns early. Wrapping the workflow's execute lets the summary follow every real run
    (not dry runs, not the processes that run single jobs, not with --no-hooks) without
    running any job.
    """
    execute = workflow.execute

    def execute_then_report(*args, **kwargs):
        result = execute(*args, **kwargs)
        if (
            not _failures_reported
            and not workflow.dryrun
            and workflow.exec_mode == ExecMode.DEFAULT
            and not workflow.execution_settings.no_hooks
        ):
            report_failed_sessions(fail=config["fail_on_session_errors"])
        return result

    workflow.execute = execute_then_report


# ---------------------------------------------------------------- console output
# Snakemake prints a block per job (its inputs, outputs, resources): 500 lines for the demo.
# On screen, the workflow shows a progress line ("12 of 29 steps (41%) done") per tenth of
# the jobs instead, whatever their number; job errors (with their logs), warnings and the
# end-of-run summary are unchanged, and so are dry runs, cluster runs (--executor slurm:
# each job's block names its cluster job), --verbose runs and the full log in .snakemake/log/.


def compact_console(workflow):
    """Filter the per-job blocks out of snakemake's screen output (not its log file)."""
    import logging

    from snakemake_interface_logger_plugins.common import LogEvent

    settings = workflow.output_settings
    if workflow.exec_mode != ExecMode.DEFAULT or settings is None or settings.verbose:
        return
    hidden = {LogEvent.JOB_INFO, LogEvent.JOB_STARTED, LogEvent.JOB_FINISHED, LogEvent.SHELLCMD}

    shown_tenths = set()

    class CompactConsole(logging.Filter):
        def filter(self, record):
            # a dry run shows the plan, every job; cluster runs name each job's cluster id
            if workflow.dryrun or not workflow.local_exec:
                return True
            event = getattr(record, "event", None)
            if event in hidden:
                return False
            if event == LogEvent.PROGRESS:  # at most one line per tenth of the jobs
                done, total = getattr(record, "done", 0), getattr(record, "total", 0) or 1
                tenth = 10 * done // total
                if tenth in shown_tenths:
                    return False
                shown_tenths.add(tenth)
                return True
            return record.msg != "Select jobs to execute..."

    for handler in logger.handlers:
        if handler.name == "DefaultStreamHandler":
            handler.addFilter(CompactConsole())
