"""sgcflow's control plane: the scheme library, simulation, the workflow and the CLI."""
