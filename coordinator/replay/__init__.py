"""What `sgc simulate`, `sgc replay` and the benchmarks run on a measured straggler trace.

- ``traces``: the latency model built from the measured Lambda delays.
- ``round_simulator``: replaying a trace through a scheme and a wait policy, round by round.
- ``search``: the in-sample parameter searches that make the baselines strong.
- ``comparison``: every scheme on the same trace, against the strongest GC.
- ``bound``, ``work_bound``: lower bounds (sgcflow's own family; any scheme).
- ``livereplay``: the same schemes through the emulated workflow, beside the simulator.

Nothing here but ``livereplay`` does I/O.
"""
