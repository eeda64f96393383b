"""Domain errors. The CLI turns ``UsageError`` into exit 2 and ``HarnessError`` into a clear message."""


class HarnessError(Exception):
    """Something the user can act on; printed without a traceback."""


class UsageError(HarnessError):
    """A bad option or a dataset that is not there: exit status 2."""
