"""The base of every user-facing error: the CLI prints its one-line message and exits 1."""


class TandemError(Exception):
    """A problem the user can fix; ``str(err)`` says what and where, in one line."""


class UsageError(Exception):
    """A bad command line: printed as is, exit code 1."""
