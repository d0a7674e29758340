"""Plain boto3 clients for the tests' emulator (never the adapters' own code)."""

from __future__ import annotations

import boto3

REGION = "us-east-1"


def client(emulator, service: str):
    """A boto3 client for ``service`` on ``emulator`` (moto accepts any credentials)."""
    return boto3.client(service, endpoint_url=emulator.endpoint_url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
