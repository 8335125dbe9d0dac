"""A process run on a pseudo-terminal, and the screen a terminal would show of its output.

A live display redraws itself in place (cursor up, erase line, draw again), so what a user sees is not the bytes
written but what is left on the screen; :func:`screen` replays the control sequences a ``rich`` live display and
coloured log lines use (CR, LF, cursor up/down, erase line, colours ignored) into the final lines.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

_CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
_OTHER_ESCAPE = re.compile(r"\x1b[()][A-Za-z0-9]|\x1b[=>78]")


def run_on_terminal(args: list[str], *, env: dict[str, str], cwd: str, timeout: float = 180,
                    columns: int = 120, lines: int = 60) -> tuple[int, str]:
    """Run ``args`` with stdout and stderr on a new pseudo-terminal of ``columns`` x ``lines``; its exit status
    and everything it wrote there."""
    import fcntl
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    full_env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)}
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=full_env, cwd=cwd)
    os.close(terminal)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process has ended
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    else:
        process.kill()
    os.close(controller)
    return process.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


def screen(output: str) -> list[str]:
    """The lines left on a (tall enough) terminal after ``output`` is written to it."""
    output = _OTHER_ESCAPE.sub("", output)
    rows: list[list[str]] = [[]]
    row = column = 0
    position = 0
    for match in list(_CSI.finditer(output)) + [None]:
        end = match.start() if match else len(output)
        for char in output[position:end]:
            if char == "\n":
                row += 1
                column = 0  # a pty turns LF into CR LF
                while len(rows) <= row:
                    rows.append([])
            elif char == "\r":
                column = 0
            elif char in "\x07\x08":
                column = max(0, column - 1) if char == "\x08" else column
            else:
                line = rows[row]
                line.extend(" " * (column - len(line) + 1) if column >= len(line) else "")
                line[column] = char
                column += 1
        if match is None:
            break
        position = match.end()
        params, command = match.group(1), match.group(2)
        count = int(params) if params.isdigit() else 1
        if command == "A":
            row = max(0, row - count)
        elif command == "B":
            row += count
            while len(rows) <= row:
                rows.append([])
        elif command == "G":
            column = max(0, count - 1)
        elif command == "K":
            if params in ("", "0"):
                del rows[row][column:]
            elif params == "2":
                rows[row] = []
            elif params == "1":
                rows[row][:column] = [" "] * min(column, len(rows[row]))
        elif command == "J" and params in ("", "0"):
            del rows[row][column:]
            del rows[row + 1:]
        # colours (m), cursor visibility (?25l / ?25h) and the rest change nothing on the lines
    return ["".join(line).rstrip() for line in rows]
