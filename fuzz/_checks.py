"""Named checks: a broken promise is a :class:`Finding`, unless its name is skipped.

``FUZZ_SKIP=h2_frames.status,hpack.memory`` turns named checks off, so that
a fuzz run can look past a finding that is already known (triage), without
editing the target. Nothing is skipped by default, nor in the tests.
"""

from __future__ import annotations

import os

__all__ = ["Finding", "fail", "skipped"]

_SKIPPED = frozenset(filter(None, os.environ.get("FUZZ_SKIP", "").split(",")))


class Finding(AssertionError):
    """A decoder broke one of its promises."""


def skipped(name: str) -> bool:
    """Whether the check ``name`` is turned off (``FUZZ_SKIP``)."""
    return name in _SKIPPED


def fail(name: str, message: str) -> None:
    """Raise :class:`Finding` ``name: message``, unless the check ``name`` is skipped.

    Targets call it behind their own ``if``, so a message is only built for a finding.
    """
    if name not in _SKIPPED:
        raise Finding(f"{name}: {message}")
