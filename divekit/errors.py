"""One exception type per family of user error.

Each carries a message that names the file or argument, what was found and what was expected.
The CLI prints ``error: <message>`` and exits with status 2 for any of them.
"""


class DivekitError(Exception):
    """Base class of all user-facing divekit errors."""


class DataError(DivekitError):
    """A data file or dataset is missing, corrupt or not what was expected."""


class ConfigError(DivekitError):
    """An argument, option or configuration value is invalid."""


class CheckpointError(DivekitError):
    """A checkpoint or run directory cannot be read or written safely."""


class TrainingDiverged(DivekitError):
    """The loss or a gradient became NaN or infinite, or the weights did."""
