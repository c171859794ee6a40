"""The job spec and everything checked at submit, before any AWS call.

- ``jobspec``: the spec's fields, parsed and validated (``validate``, ``JobSpec``).
- ``speccheck``: the checker that collects every problem at once, each naming its field.
- ``specinject``: the emulation-only fields (injected stragglers and faults).
- ``safeload``: reading a YAML/JSON file a hostile user may have written, with hard limits.
- ``limits``: the size bounds shared with ``sgc data prepare`` and the dataset loader.
- ``budget``, ``model_budget``: the resource estimate (worker memory and time, coordinator memory).
"""
