"""One synthesis of the two-region app per test session (cdk-nag runs in it), shared by all tests.

Bundling is skipped (``bundle=source``: placeholder layer) so no wheels are needed; the real
layer is measured by the slow packaging test.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from infra_helpers import REGIONS, Synth, synthesize  # noqa: E402


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk") / "cdk.out", regions=",".join(REGIONS))


@pytest.fixture(scope="session")
def template(synth) -> dict:
    return synth.templates["us-east-1"]
