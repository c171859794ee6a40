#!/usr/bin/env python3
"""CDK entry point: `python app.py [-c regions=us-east-1,eu-west-1 ...]` writes cdk.out/."""

import sys

from infra.app import build_app, parse_context_args

if __name__ == "__main__":
    build_app(parse_context_args(sys.argv[1:])).synth()
