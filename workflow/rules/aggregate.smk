# Steps across sessions: amplitude summary and shared range, between-session shifts, QC
# tables, multi-session grid (driftqc.pipeline.batch). A session whose record is unusable
# is listed as failed; it never stops a summary.

# seconds of work each: not worth a cluster job and its queueing
localrules:
    amplitude_summary,
    qc_summary,



rule amplitude_summary:
    input:
        qc=expand(rules.qc.output.qc, session=SESSION_IDS),
        samples=expand(rules.qc.output.sample, session=SESSION_IDS),
    output:
        table=report(
            "results/summary/amplitudes.tsv",
            caption="../report/amplitude_table.rst",
            category="Amplitudes",
            labels={"figure": "amplitude quantiles"},
        ),
        figure=report(
            "results/summary/amplitudes.png",
            caption="../report/amplitudes.rst",
            category="Amplitudes",
            labels={"figure": "amplitude distributions"},
        ),
        shared="results/summary/shared_amplitude_range.json",
    params:
        sessions=SESSION_IDS,
        percentiles=config["amplitude_summary"]["percentiles"],
        shared_percentiles=config["amplitude_summary"]["shared_percentiles"],
    log:
        "logs/amplitude_summary.log",
    benchmark:
        "results/benchmarks/amplitude_summary.tsv"
    resources:
        mem_mb=cached_mem_mb,
        runtime=summary_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/amplitude_summary.py"


rule session_shifts:
    input:
        selections=expand(rules.filter.output.selection, session=SESSION_IDS),
    output:
        table=report(
            "results/summary/session_shifts.tsv",
            caption="../report/session_shifts.rst",
            category="Drift QC",
            subcategory="between sessions",
            labels={"table": "shift of each session"},
        ),
        figure=report(
            "results/summary/kymograph.png",
            caption="../report/kymograph.rst",
            category="Drift QC",
            subcategory="between sessions",
            labels={"figure": "kymograph"},
        ),
    params:
        sessions=SESSION_IDS,
        details=session_details(),
        reference=config["drift_qc"]["reference_session"],
        max_shift_um=config["drift_qc"]["max_session_shift_um"],
        min_units=config["drift_qc"]["session_shift_min_units"],
        min_fraction=config["drift_qc"]["session_shift_min_fraction"],
        min_contrast=config["drift_qc"]["session_shift_min_contrast"],
    log:
        "logs/session_shifts.log",
    benchmark:
        "results/benchmarks/session_shifts.tsv"
    resources:
        mem_mb=inputs_mem_mb,
        runtime=summary_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/session_shifts.py"


rule qc_summary:
    input:
        qc=expand(rules.qc.output.qc, session=SESSION_IDS),
        drift=drift_qc_inputs,
        shifts=session_shifts_input,
    output:
        table=report(
            "results/summary/qc.tsv",
            caption="../report/qc_table.rst",
            category="QC",
            labels={"table": "QC per session"},
        ),
        drift=report(
            "results/summary/drift_qc.tsv",
            caption="../report/drift_qc_table.rst",
            category="QC",
            labels={"table": "drift QC per session and shank"},
        ),
    params:
        sessions=SESSION_IDS,
        details=session_details(),
        thresholds=config["drift_qc"]["thresholds"],
    log:
        "logs/qc_summary.log",
    benchmark:
        "results/benchmarks/qc_summary.tsv"
    resources:
        mem_mb=500,
        runtime=summary_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/qc_summary.py"


rule grid:
    input:
        selections=expand(rules.filter.output.selection, session=SESSION_IDS),
        drift_maps=expand(rules.render.output.drift_map, session=SESSION_IDS),
        shared=shared_range_input,
        shifts=session_shifts_input,
    output:
        png=report(
            "results/grid/drift_maps.png",
            caption="../report/grid.rst",
            category="All sessions",
            labels={"figure": "grid (common depth axis)"},
        ),
        pdf=report(
            "results/grid/drift_maps.pdf",
            caption="../report/grid_pdf.rst",
            category="All sessions",
            labels={"figure": "one page per session"},
        ),
    params:
        sessions=SESSION_IDS,
        titles=session_titles(),
        options=render_params(),
        layout=config["grid"],
    log:
        "logs/grid.log",
    benchmark:
        "results/benchmarks/grid.tsv"
    resources:
        mem_mb=cached_mem_mb,
        runtime=summary_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/grid.py"
