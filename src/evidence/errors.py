"""Errors users see.

Every problem a user can cause (a bad parameter, a malformed data file, an impossible design) is raised as an
:class:`EvidenceError` whose message is one line that names the file, key or column and says what to do. The
command line prints that line and exits with status 2; it never shows a traceback for these errors.
"""

from __future__ import annotations


class EvidenceError(Exception):
    """A user-facing error with a one-line message.

    Parameters
    ----------
    message
        What is wrong, where (file, key or column) and what to do about it. Newlines are folded so that the
        message always prints as one line.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ParamsError(EvidenceError):
    """A parameters file, or a ``--set`` override, is invalid."""


class DataError(EvidenceError):
    """A data file cannot be used as it is."""


class DesignError(EvidenceError):
    """The treatment design cannot be built from the data and parameters."""


class EstimationError(EvidenceError):
    """An estimator cannot run on the design it was given."""
