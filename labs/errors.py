"""Errors that end a lab command with a clear message and a distinct exit code (never a traceback)."""

from __future__ import annotations


class LabError(Exception):
    """A problem the user can fix; exit code 1 unless a subclass says otherwise."""

    exit_code = 1


class CannotGrade(LabError):
    """Grading (or any cluster work) is impossible: cluster unreachable, access denied, target missing. Exit 2."""

    exit_code = 2


class TargetError(CannotGrade):
    """No usable cluster; the message says what was tried."""
