"""Deterministic test data: every supported type, nulls everywhere, unicode, duplicates."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pyarrow as pa

KEYS = ["a", "b", "ç", "日本", "🙂", "", "a "]
WORDS = ["", "zebra", "Ångström", "naïve café", "東京", "emoji 🙂🙃", "a", "A", "ab", "b" * 40]


def _nulls(rng: np.random.Generator, n: int, frac: float) -> np.ndarray:
    return rng.random(n) < frac


def _arr(values: object, mask: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type=type_, mask=mask)


def make_alltypes(n: int, seed: int) -> pa.Table:
    """A table with one column per supported type, ~10% nulls in each but ``id``.

    Values are chosen so that sums of the small integer types do not overflow
    and so that duplicate group keys are frequent. ``big`` and ``u64`` hold
    values near the limits of their types (compare, sort, min/max them; do
    not sum them).
    """
    rng = np.random.default_rng(seed)

    def nulls(frac: float = 0.1) -> np.ndarray:
        return _nulls(rng, n, frac)

    base_day = dt.date(2020, 1, 1)
    days = rng.integers(-400, 2000, n)
    micros = rng.integers(-(10**15), 2 * 10**15, n)
    cents = rng.integers(-(10**9), 10**9, n)
    big_choices = np.array([2**63 - 1, -(2**63), 2**62, -(2**62), 0, 1, -1], dtype=np.int64)
    u64_choices = np.array([2**64 - 1, 2**63, 2**63 - 1, 0, 1, 12345], dtype=np.uint64)
    words = [WORDS[i] for i in rng.integers(0, len(WORDS), n)]
    return pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "k": _arr([KEYS[i] for i in rng.integers(0, len(KEYS), n)], nulls(0.05), pa.string()),
            "k2": _arr(rng.integers(0, 5, n), nulls(0.05), pa.int32()),
            "i8": _arr(rng.integers(-10, 11, n), nulls(), pa.int8()),
            "i16": _arr(rng.integers(-1000, 1000, n), nulls(), pa.int16()),
            "i32": _arr(rng.integers(-(10**6), 10**6, n), nulls(), pa.int32()),
            "i64": _arr(rng.integers(-(10**12), 10**12, n), nulls(), pa.int64()),
            "big": _arr(rng.choice(big_choices, n), nulls(), pa.int64()),
            "u8": _arr(rng.integers(0, 256, n), nulls(), pa.uint8()),
            "u16": _arr(rng.integers(0, 65536, n), nulls(), pa.uint16()),
            "u32": _arr(rng.integers(0, 2**32, n, dtype=np.uint64), nulls(), pa.uint32()),
            "u64": _arr(rng.choice(u64_choices, n), nulls(), pa.uint64()),
            "f32": _arr(np.round(rng.normal(0, 100, n), 2), nulls(), pa.float32()),
            "f64": _arr(rng.normal(0, 1e6, n), nulls(), pa.float64()),
            "b": _arr(rng.random(n) < 0.5, nulls(), pa.bool_()),
            "s": _arr(words, nulls(), pa.string()),
            "ls": _arr(words[::-1], nulls(), pa.large_string()),
            "sv": _arr(words[1:] + words[:1], nulls(), pa.string_view()),
            "d": _arr([base_day + dt.timedelta(days=int(x)) for x in days], nulls(), pa.date32()),
            "ts": _arr(micros, nulls(), pa.timestamp("us")),
            "dec": _arr(
                [decimal.Decimal(int(c)).scaleb(-2) for c in cents], nulls(), pa.decimal128(12, 2)
            ),
        }
    )
