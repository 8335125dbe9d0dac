"""Facts about other processes, for lock files and files left open by a crashed writer."""

from __future__ import annotations

import os


def _zombie(pid: int) -> bool:
    """A process that has exited but was not yet reaped by its parent still has a pid; it writes nothing."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def pid_alive(pid: int) -> bool:
    """Whether a running process with this pid exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)
