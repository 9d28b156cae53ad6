# Synthetic demo sessions, so the workflow runs on a fresh clone with no data.


rule demo_session:
    output:
        directory("resources/demo/{drift}-{layout}-{seed}"),
    params:
        n_spikes=config["demo"]["n_spikes"],
        n_channels=config["demo"]["n_channels"],
        duration=config["demo"]["duration_s"],
    wildcard_constraints:
        drift="none|linear|zigzag|step",
        layout="kilosort2_5|kilosort4",
        seed=r"\d+",
    log:
        "logs/demo_session/{drift}-{layout}-{seed}.log",
    benchmark:
        "results/benchmarks/demo_session/{drift}-{layout}-{seed}.tsv"
    resources:
        mem_mb=demo_mem_mb,
        runtime=demo_runtime,
    conda:
        "../envs/driftqc.yaml"
    script:
        "../scripts/demo_session.py"
