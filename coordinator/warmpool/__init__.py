"""The warm-pool manager: cold-start statistics, demand, keep-alive policies and provisioning.

schema (Huawei cold-start CSV -> Arrow/Parquet), synthetic (seeded generator in that schema),
stats (per-region quantiles, rates, pod utility, plot), workload (invocations -> per-environment
streams), policies + faascache + window_loops (keep-alive policies), simulator (replay, metrics,
sgcflow policy), demand (job plans), forecast (per-minute ensembles), planner (lead time,
amount, release, provisioned vs pre-warm by price), driver (boto3 provisioned concurrency),
moto_shim (the provisioned-concurrency API moto lacks, for tests and the local emulator);
azure2019 (the Azure Functions 2019 trace format), replay (its per-app busy-period streams and
the resample), tuning (sgcflow's background policy tuned on the warm-up only), realtrace (every
policy on a real trace with the job mix laid over it).
"""
