"""Expected failures and the exit codes they map to (DESIGN.md's one rule).

0 ok · 1 failure during the work · 2 usage error · 3 input missing or unusable
before the work starts · 4 quality gate not met · 130 interrupted.
"""

from __future__ import annotations


class GlaucliError(Exception):
    """A failure with a one-line message and an optional hint; never a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class WorkError(GlaucliError):
    """Something failed while doing the work (network after retries, checksum, disk full)."""

    exit_code = 1


class UsageError(GlaucliError):
    """A bad flag or value."""

    exit_code = 2


class InputError(GlaucliError):
    """An input is missing or unusable before the work starts."""

    exit_code = 3


class QualityGateError(GlaucliError):
    """`evaluate --fail-under` was not met."""

    exit_code = 4


class Interrupted(GlaucliError):
    """Ctrl-C or SIGTERM; the message says how to continue."""

    exit_code = 130


def brief(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's text, shortened at a word boundary (never mid-word)."""
    text = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else type(exc).__name__
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:(")
    return (cut if len(cut) > limit // 2 else text[:limit]) + " ..."
