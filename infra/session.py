"""AWS sessions for the commands that talk to AWS or to an emulator.

The standard boto3 environment applies (``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``).
Against an endpoint, the account id comes from STS and the region from the session, never
from the stack file, so ARNs match what the endpoint returns.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from infra.aws.base import AwsEnv
from infra.errors import TandemError

#: Credentials used only against a local endpoint when the environment provides none; the
#: emulator accepts any.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class EndpointError(TandemError):
    """The endpoint (or AWS) cannot be reached or refuses the credentials."""


@dataclass
class AwsSession:
    """A boto3 session bound to an optional endpoint URL.

    ``client()`` injects the endpoint and adaptive retries, and caches one client per service
    (clients are thread-safe; creating them is not, hence the lock).
    """

    boto: Any
    endpoint_url: str | None = None
    #: AWS API calls made through this session's clients (retries not counted twice).
    api_calls: int = 0
    #: Reads one adapter shares with another during one command (e.g. SQS attributes).
    memo: dict = field(default_factory=dict, repr=False)
    _clients: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _count_call(self, **_: Any) -> None:
        with self._lock:
            self.api_calls += 1

    @property
    def region_name(self) -> str | None:
        """The session's region."""
        return self.boto.region_name

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` on this session's endpoint (cached unless
        ``kwargs`` are given)."""
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        if set(kwargs) - {"endpoint_url"}:
            client = self.boto.client(service, **kwargs)
            client.meta.events.register("before-call", self._count_call)
            return client
        with self._lock:
            if service not in self._clients:
                from botocore.config import Config

                client = self.boto.client(service, config=Config(
                    retries={"mode": "adaptive", "max_attempts": 8},
                    max_pool_connections=16), **kwargs)
                client.meta.events.register("before-call", self._count_call)
                self._clients[service] = client
            return self._clients[service]


_LOADER: Any = None


def _botocore_session() -> Any:
    """A botocore session sharing one service-model loader with every other session of this
    process: loading the JSON models is most of the cost of creating a client."""
    global _LOADER
    import botocore.session

    session = botocore.session.get_session()
    if _LOADER is None:
        _LOADER = session.get_component("data_loader")
    else:
        session.register_component("data_loader", _LOADER)
    return session


def open_session(endpoint_url: str | None = None, region: str | None = None,
                 profile: str | None = None) -> AwsSession:
    """A session for ``endpoint_url`` (or ``AWS_ENDPOINT_URL``, or AWS itself).

    ``region`` is the fallback when neither the environment nor the profile sets one.
    """
    import boto3

    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    boto = boto3.Session(profile_name=profile or None, botocore_session=_botocore_session())
    local = bool(endpoint_url) and _is_loopback(endpoint_url)
    if (boto.region_name is None and region) or (local and boto.get_credentials() is None):
        credentials = EMULATOR_CREDENTIALS if local and boto.get_credentials() is None else {}
        boto = boto3.Session(profile_name=profile or None,
                             region_name=boto.region_name or region,
                             botocore_session=_botocore_session(), **credentials)
    return AwsSession(boto, endpoint_url)


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlparse

    host = urlparse(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def resolve_env(session: AwsSession) -> AwsEnv:
    """Account id from STS and region from the session; EndpointError when unreachable."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    sts = session.client("sts", config=Config(connect_timeout=3, read_timeout=10,
                                              retries={"mode": "adaptive", "max_attempts": 2}))
    where = session.endpoint_url or "AWS"
    try:
        identity = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as err:
        raise EndpointError(f"cannot reach {where}: {err}") from None
    region = session.region_name
    if not region:
        raise EndpointError("no AWS region: set AWS_REGION or aws:region in the stack file")
    partition = identity["Arn"].split(":")[1] if identity.get("Arn") else "aws"
    return AwsEnv(account_id=identity["Account"], region=region, partition=partition)
