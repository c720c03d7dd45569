"""One exception type for every user-facing failure.

The CLI turns a :class:`DrsnError` into a single ``error: ...`` line and a
non-zero exit, so library code raises it for anything the user can fix (bad
path, foreign checkpoint, malformed data) instead of letting a traceback out.
"""


class DrsnError(Exception):
    """A problem with the user's input, reported as one line."""
