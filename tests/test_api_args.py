"""ApiFunctionArgs: defaults pinned, rules exercised."""

from __future__ import annotations

import pytest

from components.api import ApiFunctionArgs


def args(**overrides):
    return ApiFunctionArgs(app="acme", env="staging", code_dir="/code", **overrides)


@pytest.mark.parametrize("field, expected", [
    ("runtime", "python3.12"), ("memory_mb", 512), ("timeout_seconds", 10),
    ("log_retention_days", 30), ("alias_name", "live"), ("handler", "handler.handler"),
])
def test_default(field, expected):
    assert getattr(args(), field) == expected


@pytest.mark.parametrize("overrides, message", [
    ({"timeout_seconds": 31}, "timeout_seconds=31: must be 1 to 30"),
    ({"memory_mb": 100}, "memory_mb=100"),
    ({"log_retention_days": 2}, "log_retention_days=2"),
    ({"alias_name": "1bad"}, "alias_name='1bad'"),
    ({"environment": {"AWS_REGION": "x"}}, "'AWS_REGION' is not a name"),
    ({"extra_statements": [{"Action": "sqs:*", "Resource": "arn:x"}]}, "wildcard actions"),
    ({"extra_statements": [{"Action": "sqs:SendMessage", "Resource": "*"}]},
     "scope Resource"),
])
def test_rule(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        args(**overrides)
