"""Run driftqc's core benchmark suite, side by side with driftplots 0.2.2.

One command generates the synthetic sessions (once; they are reused), runs every measurement
in a fresh subprocess (so each peak RSS is that measurement's own), prints a table and writes
it into ``benchmarks/RESULTS.md`` between the GENERATED markers (text outside them is kept)::

    /work/venvs/dev/bin/python benchmarks/run.py                # 1M and 10M, both layouts
    /work/venvs/dev/bin/python benchmarks/run.py --sizes 1M,10M,50M --profile

Each measurement runs once right after its session's files were dropped from the page cache
(``posix_fadvise``; "cold") and then ``--repeat`` times more ("warm"). The table's main
figures are the fastest warm ones. driftplots runs with its own virtualenv's Python
(``--driftplots-python``), one measurement at a time, never beside another heavy process of
this suite; where both tools run a case, their warm runs alternate, so that both meet the
shared machine's slow spells alike.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _measure import evict_from_page_cache, memory_available_gb, parse_result  # noqa: E402

LAYOUTS = {"ks2_5": "kilosort2_5", "ks4": "kilosort4"}
DRIFTQC_CASES = ("load", "scatter", "density", "histogram", "stream")
DRIFTPLOTS_CASES = ("load", "scatter")
SESSION = {"n_channels": 384, "n_units": 300, "duration": 3600.0, "drift": "zigzag"}
DRIFTPLOTS_ONLY_UP_TO = 10_000_000  # 25 M spikes of KS2.5 would not fit in 24 GB for it
BIG_SIZE = 50_000_000
BIG_FREE_DISK_GB = 40
DRIFTPLOTS_KB_PER_SPIKE = 1.25  # measured peak ~11.8 GB at 10 M (KS2.5 layout)
BEGIN, END = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"
CASE_TITLES = {
    "load": "load",
    "scatter": "load + scatter map + histogram → PNG",
    "density": "load + density map (all spikes) + histogram → PNG",
    "histogram": "load + depth histogram (all spikes) → PNG",
    "stream": "density map + histogram of all spikes, read in chunks → PNG",
}


def parse_size(text: str) -> int:
    """``"10M"`` → 10 000 000, ``"500k"`` → 500 000, ``"1234"`` → 1234."""
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    return int(float(number) * scale)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


@dataclass
class Row:
    """One measurement of one tool on one session: its cold and warm runs."""

    size: int
    layout: str
    case: str
    tool: str
    cold: dict | None = None
    warm: dict | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def ensure_session(data_dir: Path, n_spikes: int, layout: str, python: str) -> tuple[Path, float]:
    """Generate a synthetic session unless an identical one exists; return (folder, seconds)."""
    folder = data_dir / f"{layout}_{size_label(n_spikes)}"
    stamp = folder / "_bench_stamp.json"
    wanted = {"n_spikes": n_spikes, "layout": LAYOUTS[layout], **SESSION}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return folder, 0.0
    if folder.exists():
        shutil.rmtree(folder)
    print(f"generating {folder} ...", flush=True)
    start = time.perf_counter()
    code = (
        "import sys, json; from driftqc.synthetic import write_kilosort_folder; "
        "kw = json.loads(sys.argv[2]); n = kw.pop('n_spikes'); "
        "write_kilosort_folder(sys.argv[1], n_spikes=n, **kw)"
    )
    subprocess.run([python, "-c", code, str(folder), json.dumps(wanted)], check=True)
    stamp.write_text(json.dumps(wanted))
    return folder, time.perf_counter() - start


def run_one(cmd: list[str], env: dict | None = None) -> tuple[dict | None, str]:
    """Run one benchmark subprocess; return its result and, on failure, the error's tail."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    result = parse_result(proc.stdout)
    if proc.returncode != 0 or result is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return None, f"exit {proc.returncode}: " + " | ".join(tail)
    return result, ""


def measure(
    cmd_for, folder: Path, cold: bool, repeat: int
) -> tuple[dict | None, dict | None, str]:
    """Cold run (folder evicted from the page cache), then ``repeat`` warm runs.

    The warm result is the run with the least wall time (the machine is shared, so slower
    runs mostly measure other processes); its peak RSS is the largest of the warm runs.
    """
    ((cold_result, best, err),) = measure_side_by_side([cmd_for], folder, cold, repeat)
    return cold_result, best, err


def measure_side_by_side(
    cmds_for: list, folder: Path, cold: bool, repeat: int
) -> tuple[tuple[dict | None, dict | None, str], ...]:
    """:func:`measure` for several tools at once, their warm runs taken in turn.

    The shared machine has slow spells lasting a minute or more; alternating the tools'
    runs (A, B, A, B, ...) makes every tool meet the same spells, so their ratio is fairer
    than when one tool's runs all come before the other's.
    """
    colds: list[dict | None] = [None] * len(cmds_for)
    errors = [""] * len(cmds_for)
    if cold:
        for i, cmd_for in enumerate(cmds_for):
            evict_from_page_cache(folder)
            colds[i], errors[i] = run_one(cmd_for("cold"))
    warm_runs: list[list[dict]] = [[] for _ in cmds_for]
    for _ in range(max(1, repeat)):
        for i, cmd_for in enumerate(cmds_for):
            if errors[i]:
                continue
            result, errors[i] = run_one(cmd_for("warm"))
            if result is not None:
                warm_runs[i].append(result)
    out = []
    for cold_result, runs, err in zip(colds, warm_runs, errors, strict=True):
        if err or not runs:
            out.append((cold_result, None, err))
            continue
        best = dict(min(runs, key=lambda r: r["work_s"]))
        best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        best["warm_runs_s"] = [r["work_s"] for r in runs]
        out.append((cold_result, best, ""))
    return tuple(out)


def paired_speedup(ours: dict | None, theirs: dict | None) -> float | None:
    """Median over the interleaved warm runs of (their time / our time), run by run."""
    if not ours or not theirs:
        return None
    pairs = zip(ours.get("warm_runs_s", []), theirs.get("warm_runs_s", []), strict=False)
    ratios = sorted(b / a for a, b in pairs if a > 0)
    if not ratios:
        return None
    mid = len(ratios) // 2
    return ratios[mid] if len(ratios) % 2 else 0.5 * (ratios[mid - 1] + ratios[mid])


def fmt_wall(warm: dict | None, cold: dict | None) -> str:
    if not warm:
        return "—"
    return f"{warm['work_s']:.2f}" + (f" ({cold['work_s']:.2f})" if cold else "")


def fmt_cpu(result: dict | None) -> str:
    return f"{result['work_cpu_s']:.2f}" if result else "—"


def fmt_rss(result: dict | None) -> str:
    return f"{result['peak_rss_mb'] / 1000:.2f}" if result else "—"


def fmt_phases(result: dict | None) -> str:
    if not result:
        return ""
    p = result["phases_s"]
    return " / ".join(f"{p[k]:.2f}" for k in ("load", "plot", "savefig") if k in p)


def table(rows: list[Row]) -> str:
    """Markdown table: one line per (size, layout, case), driftplots beside driftqc."""
    by_key = {(r.size, r.layout, r.case, r.tool): r for r in rows}
    lines = [
        "| spikes | layout | measurement | driftqc wall s, warm (cold) | driftqc CPU s | "
        "load / plot / savefig s | driftqc peak RSS GB | driftplots wall s, warm (cold) | "
        "driftplots CPU s | driftplots peak RSS GB | driftqc / driftplots wall (CPU) | "
        "speed-up wall | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.tool == "driftqc":
            lines.append(_row_line(r, by_key.get((r.size, r.layout, r.case, "driftplots"))))
    return "\n".join(lines)


def _row_line(r: Row, dp: Row | None) -> str:
    ratio = speed = "—"
    if r.warm and dp and dp.warm:
        ratio = (
            f"{r.warm['work_s'] / dp.warm['work_s']:.3f} "
            f"({r.warm['work_cpu_s'] / dp.warm['work_cpu_s']:.3f})"
        )
        speed = f"{dp.warm['work_s'] / r.warm['work_s']:.1f}×"
        paired = paired_speedup(r.warm, dp.warm)
        if paired is not None:
            speed += f" (run by run {paired:.1f}×)"
    if dp is None:
        dp_wall = "—"
    elif dp.warm:
        dp_wall = fmt_wall(dp.warm, dp.cold)
    else:
        dp_wall = dp.note or "—"
    measurement = CASE_TITLES[r.case] + (f" ({r.note})" if r.note else "")
    loads = [x["load_average"] for x in (r.warm, dp.warm if dp else None) if x]
    return (
        f"| {size_label(r.size)} | {r.layout} | {measurement} | {fmt_wall(r.warm, r.cold)} | "
        f"{fmt_cpu(r.warm)} | {fmt_phases(r.warm)} | {fmt_rss(r.warm)} | {dp_wall} | "
        f"{fmt_cpu(dp.warm if dp else None)} | {fmt_rss(dp.warm if dp else None)} | {ratio} | "
        f"{speed} | {' / '.join(f'{x:.1f}' for x in loads)} |"
    )


def profile_headline(folder: Path, python: str, out_dir: Path, top: int = 18) -> str:
    """cProfile the headline case (warm) and return the top functions as text."""
    import io
    import pstats

    stats_path = out_dir / f"profile_scatter_{folder.name}.prof"
    result, err = run_one(
        [python, str(HERE / "bench_core.py"), "scatter", str(folder), "--profile", str(stats_path)]
    )
    if err:
        return f"profiling failed: {err}"
    buffer = io.StringIO()
    stats = pstats.Stats(str(stats_path), stream=buffer)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    text = buffer.getvalue()
    body = text[text.index("ncalls") :] if "ncalls" in text else text
    return (
        f"cProfile of `bench_core.py scatter {folder.name}` (warm; profiled run "
        f"{result['work_s']:.2f} s, phases {result['phases_s']}), top {top} by own time "
        f"(stats file: `{stats_path}`):\n\n```\n{body.rstrip()}\n```"
    )


def environment_of(python: str) -> dict:
    code = (
        f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import _measure; "
        "print(json.dumps(_measure.environment()))"
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def run_other_suites(python: str) -> str:
    """Run the viewer and workflow benchmarks (owned by others) if present; report briefly."""
    parts = []
    for name in ("bench_viewer.py", "bench_workflow.py"):
        script = HERE / name
        if not script.is_file():
            parts.append(f"- `{name}`: not present, skipped")
            continue
        start = time.perf_counter()
        proc = subprocess.run([python, str(script)], capture_output=True, text=True)
        tail = "\n".join(proc.stdout.strip().splitlines()[-25:])
        parts.append(
            f"- `{name}`: exit {proc.returncode} after {time.perf_counter() - start:.0f} s; "
            f"output (tail):\n\n```\n{tail}\n```"
        )
    return "\n".join(parts)


def write_results(path: Path, block: str) -> None:
    """Replace the generated block of RESULTS.md, keeping the hand-written text around it."""
    generated = f"{BEGIN}\n{block.rstrip()}\n{END}"
    if path.is_file():
        text = path.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + generated + tail)
            return
    path.write_text(f"# Benchmark results\n\n{generated}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M", help="spike counts, e.g. 1M,10M,50M")
    parser.add_argument("--layouts", default="ks2_5,ks4", help="ks2_5 and/or ks4")
    parser.add_argument("--data-dir", type=Path, default=HERE / "_data")
    parser.add_argument("--cases", default=",".join(DRIFTQC_CASES))
    parser.add_argument("--python", default=sys.executable, help="Python with driftqc")
    parser.add_argument(
        "--driftplots-python",
        default="/work/venvs/driftplots/bin/python",
        help="Python of a virtualenv with driftplots==0.2.2",
    )
    parser.add_argument("--no-driftplots", action="store_true")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-cache runs")
    parser.add_argument("--repeat", type=int, default=2, help="warm runs per measurement")
    parser.add_argument("--profile", action="store_true", help="cProfile the headline case")
    parser.add_argument("--all", action="store_true", help="also run bench_viewer/workflow")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    layouts = [s.strip() for s in args.layouts.split(",") if s.strip()]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [x for x in layouts if x not in LAYOUTS] + [
        c for c in cases if c not in DRIFTQC_CASES
    ]
    if unknown:
        parser.error(f"unknown layout or case: {unknown}")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    png_dir = args.data_dir / "png"
    png_dir.mkdir(exist_ok=True)
    have_dp = not args.no_driftplots and Path(args.driftplots_python).exists()
    notes: list[str] = []
    if not args.no_driftplots and not have_dp:
        notes.append(f"driftplots skipped: {args.driftplots_python} not found")

    rows: list[Row] = []
    generation: dict[str, float] = {}
    started = time.perf_counter()
    for n in sizes:
        if n >= BIG_SIZE:
            free_gb = shutil.disk_usage(args.data_dir).free / 1e9
            if (
                free_gb < BIG_FREE_DISK_GB
                and not (args.data_dir / f"ks2_5_{size_label(n)}").exists()
            ):
                msg = f"{size_label(n)} skipped: {free_gb:.0f} GB free, need {BIG_FREE_DISK_GB}"
                print(msg, flush=True)
                notes.append(msg)
                continue
        for layout in layouts:
            folder, gen_s = ensure_session(args.data_dir, n, layout, args.python)
            if gen_s:
                generation[folder.name] = round(gen_s, 1)
            for case in cases:
                row = Row(n, layout, case, "driftqc")

                def cmd(kind: str, case: str = case, folder: Path = folder) -> list[str]:
                    png = png_dir / f"driftqc_{case}_{folder.name}_{kind}.png"
                    script = str(HERE / "bench_core.py")
                    return [args.python, script, case, str(folder), "--png", str(png)]

                def dp_cmd(kind: str, case: str = case, folder: Path = folder) -> list[str]:
                    png = png_dir / f"driftplots_{case}_{folder.name}_{kind}.png"
                    script = str(HERE / "bench_driftplots.py")
                    return [args.driftplots_python, script, case, str(folder), "--png", str(png)]

                dp = None
                if have_dp and case in DRIFTPLOTS_CASES:
                    dp = Row(n, layout, case, "driftplots")
                    need_gb = n * DRIFTPLOTS_KB_PER_SPIKE / 1e6 if layout == "ks2_5" else 1.0
                    avail = memory_available_gb() or 0.0
                    if n > DRIFTPLOTS_ONLY_UP_TO:
                        dp.note = "not run (needs >24 GB)"
                    elif avail < need_gb + 1.0:
                        dp.note = f"not run ({avail:.0f} GB free < {need_gb + 1:.0f} GB)"
                if dp is not None and not dp.note:
                    both = measure_side_by_side(
                        [cmd, dp_cmd], folder, not args.no_cold, args.repeat
                    )
                    (row.cold, row.warm, row.note), (dp.cold, dp.warm, dp.note) = both
                else:
                    row.cold, row.warm, row.note = measure(
                        cmd, folder, not args.no_cold, args.repeat
                    )
                rows += [row] if dp is None else [row, dp]
                print(_row_line(row, dp), flush=True)

    profile_text = ""
    if args.profile:
        ks25 = [n for n in sizes if n <= DRIFTPLOTS_ONLY_UP_TO and "ks2_5" in layouts]
        if ks25:
            folder = args.data_dir / f"ks2_5_{size_label(max(ks25))}"
            profile_text = profile_headline(folder, args.python, args.data_dir)
    others = run_other_suites(args.python) if args.all else ""

    env = environment_of(args.python)
    dp_env = environment_of(args.driftplots_python) if have_dp else {}
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = table(rows)
    print("\n" + text)
    block = [
        f"Generated by `{command.strip()}` on {env.get('date')} "
        f"(suite wall time {time.perf_counter() - started:.0f} s).",
        "",
        f"Machine: {env.get('cpu')}, {env.get('nproc')} CPUs, {env.get('memory_gb')} GB RAM "
        f"({env.get('memory_available_gb')} GB available at the end), kernel "
        f"{env.get('kernel')}. Python {env.get('python')}; driftqc venv: numpy "
        f"{env.get('numpy')}, matplotlib {env.get('matplotlib')}"
        + (
            f"; driftplots venv: numpy {dp_env.get('numpy')}, matplotlib "
            f"{dp_env.get('matplotlib')}"
            if dp_env
            else ""
        )
        + f". OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE')}, "
        f"OPENBLAS_L2_SIZE={env.get('OPENBLAS_L2_SIZE')}.",
        "",
        "Sessions: `driftqc.synthetic.write_kilosort_folder(n_spikes=N, layout=..., "
        "n_channels=384, n_units=300, duration=3600.0, drift='zigzag')`"
        + (
            f"; generated this run (s): {generation}"
            if generation
            else "; reused from an earlier run"
        )
        + ".",
        "",
        "Times are in-process, from the start of loading to the PNG on disk (library "
        "imports excluded; they are in `results.json` as `import` and `process_s`). *wall*: "
        f"the fastest of {args.repeat} warm runs (session files in the page cache); in "
        "brackets the *cold* run made right after `posix_fadvise(DONTNEED)` dropped the "
        "session's files from this VM's page cache (the host may still cache them). *CPU*: "
        "user + system seconds of that warm run, all threads; the machine is shared with "
        "other engineers' jobs, so CPU time is the steadier figure and *load avg* (1-min, "
        "at the end of the run) says how busy the machine was. Peak RSS: `ru_maxrss` of the "
        "measurement's own process. *speed-up* = driftplots warm wall / driftqc warm wall; "
        "where both tools ran, their warm runs alternated, and *run by run* is the median "
        "over those alternating pairs of driftplots' time over driftqc's.",
        "",
        text,
    ]
    if notes:
        block += ["", "Notes: " + "; ".join(notes) + "."]
    if profile_text:
        block += ["", "### Profile of the headline case", "", profile_text]
    if others:
        block += ["", "### Other suites", "", others]
    write_results(args.results, "\n".join(block))
    (args.data_dir / "results.json").write_text(
        json.dumps([r.__dict__ for r in rows], indent=1, default=str)
    )
    print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
