"""User-facing errors: each carries one line that names the file, key or value and the expected form."""


class AbaError(Exception):
    """An error the CLI prints as one line (no traceback) before exiting non-zero."""

    exit_code = 2


class ConfigError(AbaError):
    """Bad configuration: unknown stage or key, wrong type, missing model path."""


class RunNotFound(AbaError):
    """A run id that does not exist in the runs dir."""


class RunDirError(AbaError):
    """The runs dir is missing, unwritable, or a run folder is corrupt."""


class ForeignError(AbaError):
    """A foreign log (``aba open``) that none of the readers understands, or cannot read."""
