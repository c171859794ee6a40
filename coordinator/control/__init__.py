"""The coordinator's round logic: plan, session replay, wait policy, decode, update, cost.

Pure where it can be (``plan``, ``wait``, ``update``, ``cost``); ``rounds`` wires them to the
store (DynamoDB + S3) for the thin step handlers in ``functions/coordinator_steps.py``.
"""
