"""The engine benchmark keeps working, and the heavy mix is the mix issue 12 measured.

No timing is asserted (this machine is shared); only that every candidate answered every
question and that the synthetic data has the promised shape.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_run import load_synthetic, run_benchmark

QUESTIONS = [
    "open → all searchable",
    "search: common word",
    "search: phrase",
    "search: qualifier",
    "search: negation",
    "typing: 1st key",
    "typing: worst next key",
    "facets under 'ignored'",
    "sort by user: first rows",
    "peak RSS (MB)",
    "RssAnon now (MB)",
]


@pytest.mark.slow
def test_bench_engines_asks_every_candidate_every_question(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache.sqlite3")
    stdout = run_benchmark("bench_engines", "--cache", cache, "--events", "2000", "--repeat", "1")
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("question"))
    assert lines[header].split() == ["question", "frame", "duckdb", "polars", "duck/frame",
                                     "polars/frame"]  # fmt: skip
    rows = {line[:28].strip(): line[28:].split() for line in lines[header + 1 :]}
    assert list(rows) == QUESTIONS
    for question, cells in rows.items():
        assert len(cells) == 5, question  # three figures and two ratios
        assert all(float(cell.replace(",", "")) >= 0 for cell in cells), question


def test_the_heavy_mix_has_long_descriptions_and_extra_fields() -> None:
    synthetic = load_synthetic()
    heavy = synthetic.synthetic_frame(20_000, seed=1, mix="heavy")
    long = heavy["description"].str.len() >= 20_000
    assert 0.007 < long.mean() < 0.013  # 1 % of them 20 KB
    assert heavy["description"][long].nunique() == long.sum()  # each its own
    assert 0.18 < heavy["raw"].str.contains('"user_agent"').mean() < 0.22  # a fifth
    assert 800 < heavy["raw"].str.len().mean() < 960  # about 880 bytes of raw JSON
    project = synthetic.synthetic_frame(20_000, seed=1)
    assert (
        project["raw"].str.len().mean() < 400
        and not project["raw"].str.contains('"user_agent"').any()
    )
    with pytest.raises(ValueError, match="unknown mix"):
        synthetic.synthetic_frame(10, mix="huge")
