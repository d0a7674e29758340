"""The one declared table of emulator limits.

Each entry is a property that the local emulator (moto 5.2.5, measured in
``shared/notes/moto.md``) cannot store or report. When tandem talks to an endpoint other than
AWS (``--endpoint-url`` or ``AWS_ENDPOINT_URL``), drift and import report these properties as
"not verifiable on this endpoint" instead of hiding them or calling them drift. Nothing else in
tandem special-cases the emulator.
"""

from __future__ import annotations

#: (Pulumi type token, input property) -> why the endpoint cannot show it.
EMULATOR_LIMITS: dict[tuple[str, str], str] = {
    ("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "redriveAllowPolicy"):
        "moto drops SQS RedriveAllowPolicy: accepted on create and set, never returned",
}


def emulator_limit(type_token: str, prop: str, endpoint_url: str | None) -> str | None:
    """The reason ``prop`` of ``type_token`` is unverifiable on this endpoint, or None."""
    if not endpoint_url:
        return None
    return EMULATOR_LIMITS.get((type_token, prop))
