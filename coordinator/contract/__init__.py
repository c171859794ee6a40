"""What the coordinator and the Lambda functions both rely on, written once: model specs and
the errors workers report (and, with the round steps, keys, environment names and records)."""
