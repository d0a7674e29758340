"""The base of every user-facing error: the CLI prints its one-line message and exits 1."""


class TandemError(Exception):
    """A problem the user can fix; ``str(err)`` says what and where, in one line."""
