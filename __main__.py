"""Pulumi entry point (Pulumi.yaml has no ``main:``, so the engine runs this file).

The program lives in ``infra/__main__.py``. It is not named as ``main: infra`` because Pulumi
would then put ``infra/`` first on ``sys.path``, where ``infra/platform.py`` would shadow the
standard library's ``platform`` module for every import in the process.
"""

from infra.__main__ import main

main()
