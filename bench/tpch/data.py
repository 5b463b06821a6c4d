"""TPC-H data as Parquet, generated once per scale factor with tpchgen-cli."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from queries import TABLES


def tpchgen() -> str:
    """The tpchgen-cli of this Python environment, else the one on PATH."""
    beside = Path(sys.executable).with_name("tpchgen-cli")
    found = str(beside) if beside.exists() else shutil.which("tpchgen-cli")
    if not found:
        raise RuntimeError("tpchgen-cli is missing: pip install tpchgen-cli")
    return found


def ensure(scale: float, cache: Path) -> Path:
    """The directory holding ``<table>.parquet`` for every TPC-H table at ``scale``."""
    out = cache / f"sf{scale:g}"
    if all((out / f"{t}.parquet").exists() for t in TABLES):
        return out
    tmp = cache / f"sf{scale:g}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run([tpchgen(), "parquet", "-s", f"{scale:g}", f"--output-dir={tmp}"], check=True)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # only a complete set lands in the cache
    return out
