"""The local lake is durable (issue #14, defect 9): the S3 server stores to disk, so a
restart keeps every object, and it refuses credentials other than the suite's."""

from __future__ import annotations

import os

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from suite.processes import free_port
from tests.fixtures.core import lake_server


def client(url: str, secret: str):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


def test_objects_outlive_a_restart_of_the_server(settings, tmp_path) -> None:
    port = free_port()
    conf = settings.model_copy(update={"s3_access_key_id": "local"})
    server = lake_server(conf, port=port, data_dir=tmp_path / "lake", name="s3-durable")
    url = f"http://127.0.0.1:{port}"
    secret = settings.s3_secret_access_key.get_secret_value()
    s3 = client(url, secret)
    body = os.urandom(12 * 1024 * 1024)  # multipart, as the ingestion writers upload
    server.start().wait_healthy(30)
    try:
        s3.create_bucket(Bucket="lake")
        s3.put_object(Bucket="lake", Key="manifests/a.json", Body=b'{"run": 1}')
        upload = s3.create_multipart_upload(Bucket="lake", Key="silver/big.jsonl.gz")
        parts = []
        for n, start in enumerate(range(0, len(body), 5 * 1024 * 1024), 1):
            etag = s3.upload_part(Bucket="lake", Key="silver/big.jsonl.gz", PartNumber=n,
                                  UploadId=upload["UploadId"],
                                  Body=body[start:start + 5 * 1024 * 1024])["ETag"]
            parts.append({"PartNumber": n, "ETag": etag})
        s3.complete_multipart_upload(Bucket="lake", Key="silver/big.jsonl.gz",
                                     UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": parts})
        s3.put_object(Bucket="lake", Key="rejected/gone.jsonl.gz", Body=b"x")
        deleted = s3.delete_objects(Bucket="lake",
                                    Delete={"Objects": [{"Key": "rejected/gone.jsonl.gz"}]})
        assert [d["Key"] for d in deleted["Deleted"]] == ["rejected/gone.jsonl.gz"]
    finally:
        server.stop()
    server.start().wait_healthy(30)
    try:
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"])
        assert keys == ["manifests/a.json", "silver/big.jsonl.gz"]
        assert s3.get_object(Bucket="lake", Key="manifests/a.json")["Body"].read() == \
            b'{"run": 1}'
        assert s3.get_object(Bucket="lake", Key="silver/big.jsonl.gz")["Body"].read() == body
        assert s3.head_object(Bucket="lake", Key="silver/big.jsonl.gz")["ContentLength"] == \
            len(body)
        with pytest.raises(ClientError) as refused:
            client(url, "not-the-secret").list_objects_v2(Bucket="lake")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    finally:
        server.stop()
    # the objects are plain files of the data folder
    assert (tmp_path / "lake" / "lake" / "silver" / "big.jsonl.gz").stat().st_size == len(body)
