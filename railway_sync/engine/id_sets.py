"""Sorted arrays of ids (``array("q")``) as sets: what the survey, ownership and the plan pass
around, kept as arrays because a table's ids can run to millions."""

from __future__ import annotations

from array import array
from bisect import bisect_left


def contains(ids: array | None, value: int) -> bool:
    """Whether sorted ``ids`` (None: none) hold ``value``."""
    if ids is None:
        return False
    at = bisect_left(ids, value)
    return at < len(ids) and ids[at] == value


def without(ids: array, removed: array) -> array:
    """The sorted ``ids`` not in sorted ``removed``."""
    return array("q", (i for i in ids if not contains(removed, i)))
