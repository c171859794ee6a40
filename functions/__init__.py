"""Code that runs inside AWS Lambda: the worker and the warm-pool manager's scheduled handler."""
