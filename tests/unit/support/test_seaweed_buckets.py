"""The tests' SeaweedFS grows one volume per bucket, so a whole session's buckets fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.seaweed import ACCESS_KEY, SECRET_KEY, seaweed_server

pytestmark = pytest.mark.s3


def test_each_new_bucket_grows_one_volume(tmp_path_factory: pytest.TempPathFactory) -> None:
    gen = seaweed_server(tmp_path_factory)
    server = next(gen)
    try:
        import botocore.session

        client = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=server["endpoint_url"],
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )
        for i in range(10):
            client.create_bucket(Bucket=f"growth-{i}")
            client.put_object(Bucket=f"growth-{i}", Key="k", Body=b"x" * 100)
            assert client.get_object(Bucket=f"growth-{i}", Key="k")["Body"].read() == b"x" * 100
        base = Path(tmp_path_factory.getbasetemp())
        volumes = {p.resolve() for p in base.glob("seaweed*/data/growth-*.dat")}
        assert len(volumes) == 10  # SeaweedFS's default grows seven per bucket
        client.close()
    finally:
        gen.close()
