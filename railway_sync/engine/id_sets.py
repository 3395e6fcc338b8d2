"""Sorted arrays of ids (``array("q")``) as sets: what the survey, ownership and the plan pass
around, kept as arrays because a table's ids can run to millions."""

from __future__ import annotations

import heapq
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
    if not removed:
        return array("q", ids)  # a copy, as when some are removed
    return array("q", (i for i in ids if not contains(removed, i)))


def union(first: array, second: array) -> array:
    """The sorted union of sorted ``first`` and ``second``, without a Python set of them (a
    million ids as Python ints take some 60 MB; merged, 8 MB)."""
    if not second:
        return first
    if not first:
        return second
    merged = array("q")
    last = None
    for value in heapq.merge(first, second):
        if value != last:
            merged.append(value)
            last = value
    return merged
