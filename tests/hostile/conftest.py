"""The hostile suite runs every command with no AWS credentials and no emulator."""

from __future__ import annotations

import pytest


@pytest.fixture
def hostile_env(monkeypatch, tmp_path):
    """No credentials, no instance metadata, an emulator state file under tmp_path."""
    from coordinator.backends import connect
    from coordinator.cli import local

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_ENDPOINT_URL", "SGC_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    state = tmp_path / "local.json"
    monkeypatch.setattr(connect, "LOCAL_STATE", state)
    monkeypatch.setattr(local, "LOCAL_STATE", state)
    monkeypatch.setattr(local, "LOCAL_DATA", tmp_path / "local-data")
    return tmp_path
