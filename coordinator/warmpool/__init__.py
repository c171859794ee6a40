"""The warm-pool manager: cold-start statistics, demand, keep-alive policies and provisioning.

Traces: schema (Huawei cold-start CSV -> Arrow/Parquet), synthetic (seeded generator in that
schema), azure2019 (the Azure Functions 2019 trace format), azure_streams + azure_loops (its
per-app busy-period streams, compiled, and the resample), stats (per-region quantiles, rates,
pod utility, plot).
Policies: workload (invocations -> per-environment streams), packed (all streams as flat
arrays), policies + faascache (keep-alive policies) over compiled loops (window_loops,
forecast_loops, cache_loops, packed_runs: one call per core, not per stream), demand (job
plans), forecast (per-minute ensembles), planner (lead time, amount, release, provisioned vs
pre-warm by price).
Evaluation, one direction of import: scoring (a policy's outcomes -> metrics) <- simulator (every
policy on the same streams, sgcflow's policy, the job mix) <- tuning (sgcflow's background
policy tuned on the warm-up only) <- experiment (one pipeline: synthetic or Azure background +
job mix, every policy scored after the warm-up).
AWS: driver (boto3 provisioned concurrency), moto_shim (the provisioned-concurrency API moto
lacks, for tests and the local emulator).
"""
