"""The studio's refusals that more than one domain raises or catches.

Each message says what is wrong and what to do. `JobRefused` is the one name a page or the API
catches for "this job cannot do that now".
"""

from __future__ import annotations


class SubmitError(ValueError):
    """A job cannot be submitted; the message says why and what to do."""


class TaskError(ValueError):
    """A job's work cannot go on; the message is for the user as it stands (no type name added)."""


class JobRefused(Exception):
    """A request about an existing job that cannot be carried out (base of the three below)."""


class JobNotFound(JobRefused, KeyError):
    """No job has this id."""

    def __str__(self) -> str:
        return f"no job {self.args[0]!r}; `python -m mlcore jobs list` shows the jobs."


class InvalidTransition(JobRefused, ValueError):
    """The job is not in a state from which the requested one can be reached."""


class NotYourJob(JobRefused, PermissionError):
    """Someone other than the job's owner (and not an admin) asked to stop or cancel it."""
