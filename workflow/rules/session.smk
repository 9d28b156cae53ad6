# Per-session steps: read the sorter output once into a compact cache, filter, draw, QC.
# Each script is one call of a step of driftqc.pipeline.session: whatever goes wrong with a
# session (any exception) gives it failure records instead of data, with the traceback in
# the job's log, so the others and the summaries still complete (the summaries mark it).


rule load:
    input:
        sorter_inputs,
    output:
        cache="results/cache/{session}/spikes.npz",
    params:
        folder=session_path,
        options=load_params,
    log:
        "logs/load/{session}.log",
    benchmark:
        "results/benchmarks/load/{session}.tsv"
    resources:
        mem_mb=load_mem_mb,
        runtime=load_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/load.py"


rule filter:
    input:
        cache=rules.load.output.cache,
    output:
        selection="results/filter/{session}/selection.npz",
    params:
        options=filter_params,
    log:
        "logs/filter/{session}.log",
    benchmark:
        "results/benchmarks/filter/{session}.tsv"
    resources:
        mem_mb=cached_mem_mb,
        runtime=cached_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/filter.py"


rule render:
    input:
        selection=rules.filter.output.selection,
        shared=shared_range_input,
    output:
        drift_map=report(
            "results/render/{session}/drift_map.png",
            caption="../report/drift_map.rst",
            category="Drift maps",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "drift map"},
        ),
        histogram=report(
            "results/render/{session}/depth_histogram.png",
            caption="../report/depth_histogram.rst",
            category="Depth histograms",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "depth histogram"},
        ),
        extra=expand("results/render/{{session}}/drift_map.{ext}", ext=extra_formats()),
        sidecar="results/render/{session}/drift_map.json",
    params:
        title=session_title,
        options=render_params(),
        histogram=config["render"]["histogram"],
        weighted=config["render"]["weight_histogram_by_amplitude"],
        dpi=config["render"]["dpi"],
    log:
        "logs/render/{session}.log",
    benchmark:
        "results/benchmarks/render/{session}.tsv"
    resources:
        mem_mb=cached_mem_mb,
        runtime=cached_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/render.py"


rule qc:
    input:
        cache=rules.load.output.cache,
        selection=rules.filter.output.selection,
    output:
        qc="results/qc/{session}/qc.json",
        sample="results/qc/{session}/amplitude_sample.npy",
    params:
        percentiles=config["amplitude_summary"]["percentiles"],
    log:
        "logs/qc/{session}.log",
    benchmark:
        "results/benchmarks/qc/{session}.tsv"
    resources:
        mem_mb=cached_mem_mb,
        runtime=cached_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/qc.py"


rule drift_qc:
    input:
        selection=rules.filter.output.selection,
        cache=rules.load.output.cache,
    output:
        record="results/drift_qc/{session}/drift_qc.json",
        trace="results/drift_qc/{session}/trace.tsv",
        events="results/drift_qc/{session}/events.tsv",
        units="results/drift_qc/{session}/unit_drift.tsv",
        figure=report(
            "results/drift_qc/{session}/drift_qc.png",
            caption="../report/drift_qc.rst",
            category="Drift QC",
            subcategory="{session}",
            labels={"session": "{session}", "figure": "drift map with drift trace"},
        ),
    params:
        title=session_title,
        options=drift_qc_params(),
        thresholds=config["drift_qc"]["thresholds"],
        overlay=config["drift_qc"]["overlay_trace"],
        map_options=render_params(),
        dpi=config["render"]["dpi"],
    log:
        "logs/drift_qc/{session}.log",
    benchmark:
        "results/benchmarks/drift_qc/{session}.tsv"
    resources:
        mem_mb=cached_mem_mb,
        runtime=cached_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/drift_qc.py"
