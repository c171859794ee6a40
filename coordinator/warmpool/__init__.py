"""The warm pool: cold-start statistics, keep-alive policies, the manager that keeps each job's
workers warm, and the experiment that judges it.

Traces: schema (Huawei cold-start CSV -> Arrow/Parquet), regions (the synthetic R1-R5,
calibrated), synthetic (seeded generator in that schema), azure2019 (the Azure Functions 2019
trace format), azure_streams + azure_loops (its per-app busy-period streams, compiled, and the
resample), stats (per-region quantiles, rates, pod utility, plot).
Policies: workload (invocations -> per-environment streams), packed (all streams as flat
arrays), policies + faascache (keep-alive policies) over compiled loops (window_loops,
forecast_loops, cache_loops, packed_runs: one call per core, not per stream), forecast
(per-minute ensembles).
Jobs: demand (job plans from specs), spares (environments for late tasks), coldstats (each
region's cold starts, learned or published), prices (each region's rates), planner (lead time,
amount, release, provisioned vs pre-warm by price), notice (sgc submit --start-at), tick (one
minute's decisions), timeline (the same rules for the simulator), jobmix (the job mix on that
timeline), worker_cold (a worker's cold-start charge, for the round simulator).
Evaluation, one direction of import: scoring (a policy's outcomes -> metrics) <- simulator (every
policy on the same streams, sgcflow's policy) <- tuning (sgcflow's background policy tuned on
the warm-up only) <- curves (every baseline over its settings) <- experiment (one pipeline:
synthetic or Azure background + job mix, every policy scored after the warm-up).
AWS: driver (provisioned concurrency, READY), pings (pre-warm invocations), manager (one tick:
read, decide, act, raise on failure), apply (a plan applied now), moto_shim (the
provisioned-concurrency API moto lacks, for tests).
"""
