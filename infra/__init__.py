"""CDK constructs that wire sgcflow's functions, state machine and storage together."""
