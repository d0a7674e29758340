"""The embedded AWS emulator: moto's server on 127.0.0.1.

moto is a dev dependency; it is imported only when the emulator is started.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from infra.errors import TandemError

#: Lambda without Docker: moto then "invokes" functions synchronously, so SQS messages behind
#: an event source mapping are consumed (see shared/notes/moto.md). Must be set before any
#: function is created.
EMULATOR_CONFIG = {"lambda": {"use_docker": False}, "batch": {"use_docker": False}}


class EmulatorError(TandemError):
    """The emulator could not be started or configured."""


class Emulator:
    """A ThreadedMotoServer on 127.0.0.1, configured for tandem (context manager)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: Any = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        """Start the server (an ephemeral port when ``port`` is 0) and configure it."""
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise EmulatorError("moto is not installed: pip install -e '.[dev]'") from None
        # The server's per-request log would drown the command's own output.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port,
                                          verbose=False)
        try:
            self._server.start()
        except OSError as err:
            raise EmulatorError(f"cannot start the emulator on 127.0.0.1:{self.port}: "
                                f"{err}") from None
        self.port = self._server.get_host_and_port()[1]
        # moto's backends live in the process, not the server: start from an empty state
        # even when an earlier emulator ran in this process.
        reset_emulator(self.endpoint_url)
        configure_emulator(self.endpoint_url)
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def configure_emulator(endpoint_url: str) -> None:
    """Apply :data:`EMULATOR_CONFIG` through moto's ``/moto-api/config``."""
    _post(f"{endpoint_url}/moto-api/config", EMULATOR_CONFIG, "configure")


def reset_emulator(endpoint_url: str) -> None:
    """Delete everything the emulator holds (``/moto-api/reset``); its config resets too,
    so call :func:`configure_emulator` after."""
    _post(f"{endpoint_url}/moto-api/reset", None, "reset")


def _post(url: str, body: dict | None, what: str) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode() if body is not None else b"",
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except OSError as err:
        raise EmulatorError(f"cannot {what} the emulator at {url}: {err}") from None
