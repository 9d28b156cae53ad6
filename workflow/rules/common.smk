# Helpers of the driftqc workflow: configuration and session-list validation, input
# functions, parameters and resource estimates. Rules live in the other .smk files.

import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

from driftqc.errors import OptionError
from driftqc.io.analyzer import is_analyzer_folder
from driftqc.metrics import QCThresholds
from driftqc.sessions import (
    SessionsError,
    check_sessions,
    normalise_sessions,
    read_sessions_file,
)

validate(config, "../schemas/config.schema.yaml")

# paths of synthetic sessions that rule demo_session writes
DEMO_PATH = re.compile(r"^resources/demo/(none|linear|zigzag|step)-(kilosort2_5|kilosort4)-\d+/?$")
# sorter files a cached session depends on (those present are tracked)
SORTER_FILES = (
    "spike_times.npy",
    "spike_templates.npy",
    "spike_clusters.npy",
    "amplitudes.npy",
    "templates.npy",
    "template_ind.npy",
    "whitening_mat_inv.npy",
    "pc_features.npy",
    "pc_feature_ind.npy",
    "spike_positions.npy",
    "channel_positions.npy",
    "channel_shanks.npy",
    "params.py",
    "cluster_group.tsv",
    "cluster_groups.csv",
    "cluster_KSLabel.tsv",
)


def is_demo_path(path):
    """Whether rule demo_session makes this session folder."""
    return DEMO_PATH.match(str(path)) is not None


def read_session_list(source):
    """Read, normalise and validate the sessions; stop with a message naming a bad entry."""
    try:
        if isinstance(source, str):
            where = f"sessions file {source}"
            entries = read_sessions_file(source)
        else:
            where = "config 'sessions'"
            entries = source
        entries = normalise_sessions(entries, where)
        _validate_entries(entries, where)
        check_sessions(entries, where, will_exist=is_demo_path)
    except SessionsError as exc:
        raise WorkflowError(str(exc)) from None
    return {entry["id"]: entry for entry in entries}


def _validate_entries(entries, where):
    """Validate against the sessions schema, naming the entry and field in the message."""
    for index, entry in enumerate(entries, start=1):
        try:
            validate({"sessions": [entry]}, "../schemas/sessions.schema.yaml")
        except WorkflowError as exc:
            cause = exc.__context__  # the jsonschema ValidationError
            if not hasattr(cause, "absolute_path"):
                raise
            name = f" (id '{entry['id']}')" if isinstance(entry.get("id"), str) else ""
            field = [str(p) for p in cause.absolute_path][2:]
            at = f", field '{'.'.join(field)}'" if field else ""
            raise SessionsError(f"{where}, entry {index}{name}{at}: {cause.message}") from None


SESSIONS = read_session_list(config["sessions"])
SESSION_IDS = list(SESSIONS)
DRIFT_QC = config["drift_qc"]["enabled"]


def check_drift_qc(options):
    """Stop before any job on a reference session that is not listed or bad thresholds."""
    reference = options["reference_session"]
    if reference is not None and str(reference) not in SESSIONS:
        raise WorkflowError(
            f"config 'drift_qc.reference_session': '{reference}' is not a session id "
            f"(ids: {', '.join(SESSION_IDS)})"
        )
    try:
        QCThresholds.from_mapping(options["thresholds"])
    except OptionError as exc:
        raise WorkflowError(f"config 'drift_qc.thresholds': {exc}") from None


check_drift_qc(config["drift_qc"])


wildcard_constraints:
    session="|".join(re.escape(sid) for sid in SESSION_IDS),


# ---------------------------------------------------------------- inputs and params


def session_path(wildcards):
    return SESSIONS[wildcards.session]["path"].rstrip("/")


def sorter_inputs(wildcards):
    """The demo folder (made by a rule), an analyzer folder, or a Kilosort folder's files."""
    path = session_path(wildcards)
    if is_demo_path(path) or not Path(path).is_dir() or is_analyzer_folder(path):
        return [path]
    return [str(p) for p in sorted(Path(path).iterdir()) if p.name in SORTER_FILES] + [
        str(p) for p in sorted(Path(path).glob("kilosort*.log"))
    ]


def load_params(wildcards):
    entry = SESSIONS[wildcards.session]
    return {"name": wildcards.session, "version": entry.get("version")}


def filter_params():
    opts = config["filters"]
    amplitude = opts["amplitude_filter"] or {}
    return {
        "exclude_noise": opts["exclude_noise"],
        "filter_amplitude_mode": amplitude.get("mode"),
        "filter_amplitude_values": list(amplitude.get("values", [])),
        "decimate": opts["decimate"],
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
        return "results/summary/shared_amplitude_range.json"
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
        return expand("results/drift_qc/{session}/drift_qc.json", session=SESSION_IDS)
    return []


def session_shifts_input(wildcards):
    """The between-session shift table, when drift QC is on."""
    return "results/summary/session_shifts.tsv" if DRIFT_QC else []


DRIFT_QC_OUTPUTS = [
    "results/drift_qc/{session}/drift_qc.json",
    "results/drift_qc/{session}/trace.tsv",
    "results/drift_qc/{session}/events.tsv",
    "results/drift_qc/{session}/unit_drift.tsv",
    "results/drift_qc/{session}/drift_qc.png",
]


def all_outputs():
    per_session = [
        "results/render/{session}/drift_map.png",
        "results/render/{session}/depth_histogram.png",
        "results/qc/{session}/qc.json",
    ]
    per_session += [f"results/render/{{session}}/drift_map.{ext}" for ext in extra_formats()]
    if DRIFT_QC:
        per_session += DRIFT_QC_OUTPUTS
    summaries = [
        "results/summary/qc.tsv",
        "results/summary/drift_qc.tsv",
        "results/summary/amplitudes.tsv",
        "results/summary/amplitudes.png",
        "results/summary/shared_amplitude_range.json",
        "results/grid/drift_maps.png",
        "results/grid/drift_maps.pdf",
    ]
    if DRIFT_QC:
        summaries += ["results/summary/session_shifts.tsv", "results/summary/kymograph.png"]
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
        return max(spikes.stat().st_size - 128, 0) // 24 if spikes.is_file() else DEFAULT_SPIKES
    path = folder / "spike_times.npy"
    if path.is_file():
        return max(path.stat().st_size - 128, 0) // 8
    if is_demo_path(session_path(wildcards)):
        return config["demo"]["n_spikes"]
    return DEFAULT_SPIKES


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


def warn_about_failed_sessions():
    """After a run, name the sessions that were marked failed (their data were bad)."""
    import pandas as pd

    table = Path("results/summary/qc.tsv")
    if not table.is_file():
        return
    qc = pd.read_csv(table, sep="\t", dtype={"session": str})
    failed = qc[qc["status"] != "ok"]
    for row in failed.itertuples():
        logger.warning(f"session {row.session} FAILED and is marked in the summaries: {row.error}")
