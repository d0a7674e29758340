"""QueueWorkerArgs: each default pinned, each rule exercised with bad args."""

from __future__ import annotations

import pytest

from components.worker import QueueWorkerArgs


def args(**overrides) -> QueueWorkerArgs:
    return QueueWorkerArgs(app="acme", env="staging", code_dir="/code", **overrides)


@pytest.mark.parametrize("field, expected", [
    ("runtime", "python3.12"),
    ("handler", "handler.handler"),
    ("memory_mb", 256),
    ("timeout_seconds", 30),
    ("visibility_timeout_seconds", 180),  # 6 x the 30 s timeout
    ("max_receive_count", 5),
    ("batch_size", 10),
    ("max_batching_window_seconds", 0),
    ("log_retention_days", 30),
    ("reserved_concurrency", None),
    ("max_concurrency", None),
    ("bedrock", False),
    ("protect_queues", False),
    ("layers", []),
    ("environment", {}),
])
def test_default(field, expected):
    assert getattr(args(), field) == expected


def test_visibility_default_follows_the_timeout():
    assert args(timeout_seconds=120).visibility_timeout_seconds == 720


def test_dlq_and_queue_constants():
    from components import worker
    assert worker.DLQ_RETENTION_SECONDS == 1_209_600
    assert worker.QUEUE_RETENTION_SECONDS == 345_600
    assert worker.VISIBILITY_TIMEOUT_FACTOR == 6


@pytest.mark.parametrize("overrides, message", [
    ({"visibility_timeout_seconds": 29}, "visibility_timeout_seconds=29: must be at least "
                                         "timeout_seconds"),
    ({"timeout_seconds": 0}, "timeout_seconds=0: must be an integer from 1 to 900"),
    ({"timeout_seconds": 901}, "timeout_seconds=901"),
    ({"memory_mb": 64}, "memory_mb=64: must be an integer from 128 to 10240"),
    ({"max_receive_count": 0}, "max_receive_count=0"),
    ({"batch_size": 0}, "batch_size=0"),
    ({"batch_size": 50}, "batch_size=50: a batch above 10 needs max_batching_window"),
    ({"max_batching_window_seconds": 301}, "max_batching_window_seconds=301"),
    ({"max_concurrency": 1}, "max_concurrency=1: must be an integer from 2 to 1000"),
    ({"max_concurrency": 1001}, "max_concurrency=1001"),
    ({"max_concurrency": 10, "reserved_concurrency": 5},
     "max_concurrency=10: must not exceed reserved_concurrency"),
    ({"reserved_concurrency": 0}, "reserved_concurrency=0"),
    ({"log_retention_days": 13}, "log_retention_days=13: must be one of"),
    ({"environment": {"AWS_REGION": "x"}}, "'AWS_REGION' is reserved by Lambda"),
    ({"environment": {"QUEUE_URL": "x"}}, "'QUEUE_URL' is set by QueueWorker"),
    ({"environment": {"1BAD": "x"}}, "'1BAD' is not a valid variable name"),
    ({"extra_statements": [{"Action": "s3:*", "Resource": "*"}]}, "wildcard actions"),
    ({"extra_statements": [{"Action": "s3:GetObject"}]}, "Resource is required"),
    ({"timeout_seconds": True}, "timeout_seconds=True"),
])
def test_rule(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        args(**overrides)


def test_code_dir_is_required():
    with pytest.raises(ValueError, match="code_dir"):
        QueueWorkerArgs(app="acme", env="staging", code_dir="")


def test_max_concurrency_equal_to_reserved_is_allowed():
    assert args(max_concurrency=5, reserved_concurrency=5).max_concurrency == 5
