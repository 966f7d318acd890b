"""What a storage error means to the outbox: a damaged file, a full disk, or something to retry."""

from __future__ import annotations

import errno
import sqlite3

CORRUPT_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
FULL_CODES = {"SQLITE_FULL"}
FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class CorruptDatabase(sqlite3.DatabaseError):
    """The database failed its integrity check."""


class DatabaseClosed(sqlite3.OperationalError):
    """The connection is gone (a reopen failed); the writer reopens it before retrying."""


def errorname(exc: BaseException) -> str:
    """SQLite's primary error name of an exception, e.g. SQLITE_FULL (extended codes folded)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if not name:
        text = str(exc).lower()
        if "malformed" in text:
            name = "SQLITE_CORRUPT"
        elif "not a database" in text:
            name = "SQLITE_NOTADB"
        elif "disk is full" in text:
            name = "SQLITE_FULL"
    return "_".join(name.split("_")[:2])


def is_corrupt(exc: BaseException) -> bool:
    """Whether ``exc`` says the database file itself is damaged (and must be set aside)."""
    return isinstance(exc, CorruptDatabase) or errorname(exc) in CORRUPT_CODES


def is_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the database's size limit) has no room."""
    return errorname(exc) in FULL_CODES or (isinstance(exc, OSError) and exc.errno in FULL_ERRNOS)


def describe(exc: BaseException) -> str:
    """One line naming an error, e.g. "SQLITE_FULL: database or disk is full"."""
    return f"{errorname(exc) or type(exc).__name__}: {exc}"
