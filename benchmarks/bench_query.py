"""Query speed on a synthetic frame: parse + mask of realistic queries, and typing in the view.

    .venv/bin/python benchmarks/bench_query.py [--rows 1000000] [--runs 5]

Each number is the median of ``--runs`` runs, in milliseconds. Three regimes for our evaluator:

- cold: the first query after the frame was loaded (dictionary-encodes the low-cardinality
  columns once),
- new term: a word not evaluated before on this frame (the usual case while typing),
- repeat: the same query again (the facets and the other filters re-evaluate it).

Baseline, measured in the same run: the straightforward vectorized pandas evaluation of the
same parsed query, ``df[col].str.lower().str.contains(word, regex=False)`` per column and
word, combined with numpy, nothing cached. A row-wise ``df.apply`` baseline is shown too,
timed on a 20,000-row slice and scaled linearly to the full row count.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from _synthetic import SYNTHETIC_NOW, synthetic_frame

from audit_viewer import query as query_module
from audit_viewer.query import ActorTest, FilterSet, Query, TextTest, parse_query

QUERIES = [
    "alice",
    "export failure",
    "user:alice action:export",
    '"false_positive" -"Not relevant"',
    "actor:scm after:7d",
    "alice OR bob",
    "01M5",
]
TYPING = ["f", "fa", "fal", "fals", "false", "false_", "false_p"]


def median_ms(action: Callable[[], object], runs: int, before: Callable[[], None] = lambda: None):
    times = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def forget_everything() -> None:
    query_module._KEPT.clear()


def forget_results() -> None:
    for kept in query_module._KEPT.values():
        kept.recent.clear()


def naive_mask(query: Query, df: pd.DataFrame) -> np.ndarray:
    """The same query evaluated the obvious vectorized pandas way."""
    result = np.zeros(len(df), dtype=bool)
    for group in query.groups:
        matched = np.ones(len(df), dtype=bool)
        for term in group:
            test = term.test
            if isinstance(test, TextTest):
                hits = np.zeros(len(df), dtype=bool)
                for name in test.fields:
                    found = df[name].str.lower().str.contains(test.needle.lower(), regex=False)
                    hits |= found.fillna(False).to_numpy(dtype=bool)
            elif isinstance(test, ActorTest):
                hits = (df["actor_type"] == test.actor).fillna(False).to_numpy(dtype=bool)
            else:
                bound = pd.Timestamp(test.bound(SYNTHETIC_NOW))
                created = df["created_at"]
                hits = (created >= bound if test.op == "after" else created < bound).to_numpy()
            matched &= ~hits if term.negate else hits
        result |= matched
    return result


def rowwise_ms(df: pd.DataFrame, word: str, rows: int) -> float:
    """``df.apply`` over rows on a 20k slice, scaled to ``rows``."""
    sample = df.iloc[:20_000]
    fields = list(query_module.DEFAULT_FIELDS)
    start = time.perf_counter()
    sample[fields].apply(
        lambda row: any(word in str(value).lower() for value in row if value is not pd.NA),
        axis=1,
    )
    return (time.perf_counter() - start) * 1000 * rows / len(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    df = synthetic_frame(args.rows)
    print(f"synthetic frame: {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
    print(f"median of {args.runs} runs, ms; ratio = naive pandas baseline / ours (new term)\n")
    header = f"{'query':36} {'cold':>8} {'new term':>9} {'repeat':>8} {'naive':>8} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for text in QUERIES:
        parsed = parse_query(text)
        assert isinstance(parsed, Query), parsed
        expected = naive_mask(parsed, df)
        assert np.array_equal(parsed.mask(df, now=SYNTHETIC_NOW), expected), text

        def run(parsed: Query = parsed, text: str = text) -> np.ndarray:
            return parse_query(text).mask(df, now=SYNTHETIC_NOW)  # type: ignore[union-attr]

        cold = median_ms(run, args.runs, forget_everything)
        fresh = median_ms(run, args.runs, forget_results)
        repeat = median_ms(run, args.runs)
        naive = median_ms(lambda parsed=parsed: naive_mask(parsed, df), args.runs)
        print(
            f"{text:36} {cold:8.1f} {fresh:9.1f} {repeat:8.1f} {naive:8.1f} {naive / fresh:6.1f}x"
        )

    print("\ntyping letter by letter in the search bar: FilterSet.mask_and_facets per key")
    print("(with a User column filter 'example' and the 30-day preset also set)")
    forget_results()
    keystrokes = []
    for text in TYPING:
        filters = FilterSet(search=text, text_filters={"user": "example"}, time_preset="30d")
        start = time.perf_counter()
        filters.mask_and_facets(df, now=SYNTHETIC_NOW)
        keystrokes.append((time.perf_counter() - start) * 1000)
    print("  " + "  ".join(f"{t!r}: {ms:.0f}" for t, ms in zip(TYPING, keystrokes, strict=True)))
    naive_key = median_ms(lambda: naive_mask(parse_query("false_p"), df), args.runs)  # type: ignore[arg-type]
    print(f"  median per keystroke {statistics.median(keystrokes):.1f} ms; ", end="")
    print(f"naive baseline for one search-bar evaluation alone: {naive_key:.1f} ms")

    print(f"\nrow-wise df.apply('alice'), 20k rows scaled to {args.rows:,}: ", end="")
    print(f"{rowwise_ms(df, 'alice', args.rows):.0f} ms")


if __name__ == "__main__":
    main()
