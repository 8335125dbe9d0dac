"""presswarc as a user installs it: a wheel built from this checkout, installed into a virtualenv of its own.

What the installed commands see is the wheel's code and metadata (its console script, its ``scrapy.commands``
entry points), run from a directory that is not the project's, so nothing is found through ``scrapy.cfg`` or the
checkout on ``sys.path``. Building and installing stay offline and fast: the wheel is built without build
isolation (the test environment's setuptools) and installed without dependencies; the virtualenv reaches the
dependencies through a ``.pth`` line naming the test environment's site-packages (``--system-site-packages``
would give the base interpreter's, which lacks them). That line adds the directory alone, not the ``.pth``
files in it, so an editable install of the checkout there stays out of the way.

Built once per test process (about 15 s) and shared by the modules that need it.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from tests.support.crawl import REPO

EXAMPLE = REPO / "examples" / "lavrov-afghanistan"
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "crawler", "pipelines")


def _scratch(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def installed_venv() -> Path:
    """A virtualenv with presswarc installed from a wheel of this checkout; its ``bin/`` holds ``presswarc``."""
    root = _scratch("presswarc-installed-")
    source = root / "src"  # a copy: building in place would leave build/ and *.egg-info in the checkout
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif (REPO / name).exists():
            shutil.copy2(REPO / name, source / name)
    quiet = {"capture_output": True, "text": True, "check": True, "env": _clean_env()}
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(root / "dist"), str(source)], **quiet)
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], **quiet)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             **quiet).stdout.strip()
    dependencies = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(purelib) / "presswarc_test_dependencies.pth").write_text("\n".join(dependencies) + "\n")
    wheel = next((root / "dist").glob("presswarc-*.whl"))
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], **quiet)
    return venv


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, **kwargs)
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"{' '.join(map(str, args))} exited {exc.returncode}\n{exc.stdout}\n{exc.stderr}") \
            from None


def _clean_env() -> dict[str, str]:
    """The environment without what would point a process at the checkout or a proxy."""
    drop = {"pythonpath", "scrapy_settings_module", "http_proxy", "https_proxy"}
    return {key: value for key, value in os.environ.items() if key.lower() not in drop}


def run_installed(program: str, args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``program`` (``presswarc``, ``python``) of the installed virtualenv in ``cwd``, output captured."""
    return subprocess.run([str(installed_venv() / "bin" / program), *args], cwd=cwd, env=_clean_env(),
                          capture_output=True, text=True, timeout=timeout)


@functools.cache
def example_crawl() -> tuple[subprocess.CompletedProcess, Path]:
    """``presswarc crawl`` of the bundled example, replayed, run from a scratch directory holding copies of the
    topic file and the WARC (given by relative paths); returns the process and the topic directory."""
    work = _scratch("presswarc-example-")
    shutil.copy2(EXAMPLE / "topic.toml", work / "topic.toml")
    shutil.copy2(EXAMPLE / "example.warc.gz", work / "example.warc.gz")
    result = run_installed("presswarc", ["crawl", "topic.toml", "-s", "REPLAY_FROM=example.warc.gz",
                                         "-s", "ARCHIVE_DIR=archive", "-s", "EXTRACT_WORKERS=0"], cwd=work)
    return result, work / "archive" / "lavrov-afghanistan"
