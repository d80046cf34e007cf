"""Running a benchmark script the way a developer does, for the smoke tests of benchmarks/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run_benchmark(name: str, *args: str, timeout: float = 600) -> str:
    """``python benchmarks/NAME.py ARGS`` in a fresh interpreter; its output, once it exits 0."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
