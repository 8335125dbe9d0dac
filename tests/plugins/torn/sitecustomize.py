"""Loaded by a crawl under test: SIGKILL the crawl at a named step of an article's writes.

Set PRESSWARC_KILL_AT to a step and put this directory on PYTHONPATH; PRESSWARC_KILL_AFTER=N (default 1) kills
at the N-th article reaching it. Steps, in the order pipelines.textfiles takes them:

- ``text_partial``: midway through the text file (its temporary file holds half the content);
- ``text_written``: the text file is in place, its manifest line is not;
- ``manifest_written``: the manifest line is durable, the state transaction is not committed;
- ``kept``: the state is committed, the near-duplicate signature is not stored.

A plugin on PYTHONPATH, not a setting, so that no user can turn it on by accident.
"""

import os
import signal

_step = os.environ.get("PRESSWARC_KILL_AT")
if _step:
    import tempfile

    from pipelines import textfiles

    _after = int(os.environ.get("PRESSWARC_KILL_AFTER", "1"))
    _seen = {"n": 0}

    def _due(step):
        if step != _step:
            return False
        _seen["n"] += 1
        return _seen["n"] >= _after

    def _kill():
        os.kill(os.getpid(), signal.SIGKILL)

    def _reached(step):
        if _due(step):
            _kill()

    textfiles.reached = _reached

    if _step == "text_partial":
        _write_atomic = textfiles.write_atomic

        def _write_half(directory, name, content):
            if not _due("text_partial"):
                return _write_atomic(directory, name, content)
            fd, _ = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            data = content.encode("utf-8")
            os.write(fd, data[: len(data) // 2])
            os.fsync(fd)
            _kill()

        textfiles.write_atomic = _write_half
