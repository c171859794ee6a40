"""The warm-pool manager: cold-start statistics, demand, keep-alive policies and provisioning.

schema (Huawei cold-start CSV -> Arrow/Parquet), synthetic (seeded generator in that schema),
stats (per-region quantiles, rates, pod utility, plot), workload (invocations -> per-environment
streams), policies + faascache + kernels (keep-alive policies), simulator (replay, metrics,
sgcflow policy), demand (job plans), forecast (per-minute ensembles), planner (lead time,
amount, release, provisioned vs pre-warm by price), driver (boto3 provisioned concurrency),
moto_shim (the provisioned-concurrency API moto lacks, for tests and the local emulator).
"""
