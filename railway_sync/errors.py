"""Typed failures railway_sync raises; each message is one line that names the fix."""

from __future__ import annotations


class RailwaySyncError(Exception):
    """Base class; ``str(error)`` is safe to show (never a password)."""


class NotConfigured(RailwaySyncError):
    """A database alias has no usable URL."""


class ConnectionFailed(RailwaySyncError):
    """A database could not be reached, or the connection was lost."""


class SameDatabase(RailwaySyncError):
    """The Railway alias reaches the local database itself: a sync would copy it onto itself."""


# What a sync's refusal says of Railway before anything was written; ``railway_status``,
# which never writes, leaves it out.
NOTHING_WRITTEN = "; nothing was written"
# What a refused or failed pull says: neither database was changed.
NOTHING_CHANGED = "nothing was changed"


class SchemaMismatch(RailwaySyncError):
    """Tables or columns differ between local and Railway; ``lines`` names each difference."""

    def __init__(self, message: str, lines: list[str]) -> None:
        super().__init__("\n".join([message, *lines]))
        self.message = message
        self.lines = lines

    @property
    def finding(self) -> str:
        """The first line (what differs, and the fix) without what it says of writing."""
        return self.message.replace(NOTHING_WRITTEN, "")


class GuardRefused(RailwaySyncError):
    """A safety guard of the chosen sync mode refused to run; ``problems`` lists what each
    guard found, one phrase each (empty for a refused combination of options)."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class WriteFailed(RailwaySyncError):
    """Railway rejected a write; the transaction was rolled back."""


class VerificationFailed(RailwaySyncError):
    """After writing, Railway's content did not match local; the transaction was rolled back."""


class LockTimedOut(RailwaySyncError):
    """A table stayed locked by another session for longer than the lock timeout."""


class StatementCancelled(RailwaySyncError):
    """A database cancelled a statement: its statement_timeout, or another session's cancel."""


class TransactionConflict(RailwaySyncError):
    """A database ended the sync's transaction over a deadlock or a serialization failure with
    another session; running the sync again resolves it."""


class OutOfResources(RailwaySyncError):
    """A database ran out of disk space, memory or connection slots."""


class QueryFailed(RailwaySyncError):
    """A database raised an error none of the more specific types describe."""


class AnotherSyncRunning(RailwaySyncError):
    """Another sync held the run lock on Railway for longer than the wait timeout."""


class ConfigurationError(RailwaySyncError):
    """A setting names tables or columns the local database cannot sync (missing, no usable
    primary key, foreign keys in a cycle)."""


class PermissionMissing(RailwaySyncError):
    """The user a URL connects as lacks a right the command needs; the message names the
    GRANT that gives it."""
