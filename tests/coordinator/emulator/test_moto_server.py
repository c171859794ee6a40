"""moto's server lists its packages once, and still finds every service by them."""

from __future__ import annotations

import boto3

from coordinator.emulator import moto_server


def test_the_package_list_is_read_once_and_names_what_moto_lists():
    from moto import backends

    moto_server.list_moto_modules_once()
    listed = backends.list_of_moto_modules
    assert listed() == tuple(listed.sgc_original())
    assert {"s3", "dynamodb", "awslambda", "stepfunctions"} <= set(listed())
    moto_server.list_moto_modules_once()
    assert backends.list_of_moto_modules is listed


def test_a_started_server_answers_each_service(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    server = moto_server.start(0)
    try:
        url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="listed-once")
        s3.put_object(Bucket="listed-once", Key="k", Body=b"v")
        assert s3.get_object(Bucket="listed-once", Key="k")["Body"].read() == b"v"
        ddb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
        assert ddb.list_tables()["TableNames"] == []
    finally:
        server.stop()
