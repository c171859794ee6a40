"""The Step Functions workflow that runs an sgcflow job, built once in Python (cloud + emulator)."""
