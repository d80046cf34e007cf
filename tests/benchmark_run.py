"""Running a benchmark script the way a developer does, for the smoke tests of benchmarks/."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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


def load_synthetic() -> ModuleType:
    """``benchmarks/_synthetic.py`` as a module (benchmarks/ is not a package tests import)."""
    spec = importlib.util.spec_from_file_location("_synthetic", BENCHMARKS / "_synthetic.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
