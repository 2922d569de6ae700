# Training: one job per (experiment, method, lambda) trains that setting's seeds one after another
# in one process and evaluates each run on validation and test (`spikesparse train` with one spec
# per seed). Every run keeps its own files (paths.RUN_DIR), so the tables, the claims and a
# changed lambda or method see runs, not jobs; what a job shares is the start-up (torch import,
# dataset load). Granularity: a new method or lambda adds jobs and reruns nothing else; a changed
# spec or seed list reruns that setting's job, all of its seeds. One rule per seed list
# (runs.train_rules): `train_<experiment>`, and `train_<experiment>_<method>` for a method with
# its own seeds.
from spikesparse.study.budget import rule_mem_mb, rule_priority, rule_runtime_min

for train_rule in TRAIN_RULES:

    rule:
        name:
            train_rule.name
        input:
            data=paths.DATASET.format(
                dataset=config["experiments"][train_rule.experiment]["dataset"]
            ),
        output:
            model=train_outputs(train_rule, paths.MODEL),
            history=train_outputs(train_rule, paths.HISTORY),
            info=train_outputs(train_rule, paths.TRAIN_INFO),
            metrics=train_outputs(train_rule, paths.METRICS),
        log:
            train_job_file(paths.LOGS, train_rule, "log"),
        benchmark:
            train_job_file(paths.BENCHMARKS, train_rule, "tsv")
        wildcard_constraints:
            method="|".join(re.escape(m) for m in train_rule.methods),
        # longest first (spikesparse.study.budget.job_priority)
        priority: rule_priority(config, train_rule.experiment, len(train_rule.seeds))
        conda:
            "../envs/spikesparse.yaml"
        threads: config["threads"]
        resources:
            # spikesparse.study.budget's estimate of one run's peak memory x 1.25 (at least 1500 MB).
            mem_mb=rule_mem_mb(config, train_rule.experiment),
            # twice its FLOPs at an assumed throughput (spikesparse.study.budget), at least 30 min
            runtime=rule_runtime_min(
                config, train_rule.experiment, len(train_rule.seeds)
            ),
            gres=GPU_GRES,
        params:
            specs=train_specs(train_rule),
            metrics=quoted_json(config["metrics"]),
        shell:
            "python -m spikesparse train --spec {params.specs} --data {input.data} --threads {threads}"
            " --metrics-config {params.metrics} --model {output.model} --history {output.history}"
            " --info {output.info} --metrics {output.metrics} > {log} 2>&1"
