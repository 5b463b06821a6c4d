"""How much of polars' LazyFrame and Expr API a Slipstream frame offers, measured.

The public methods of ``polars.LazyFrame`` and ``polars.Expr`` are read from
the installed polars; those ``slipstream.DataFrame`` and ``slipstream.Expr``
have too are counted and the figure printed (``pytest -s`` shows it). The
test fails when a method docs/python-client.md claims (the lists under
"polars coverage") is missing here or is not polars' name at all, so the
claim and the code cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

import slipstream as sl

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-client.md"


def _public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def _claimed(kind: str) -> set[str]:
    """The names listed after ``<!-- polars-coverage: kind -->`` in the doc."""
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- polars-coverage: {kind} -->\n(.*?)\n<!-- end -->", text, re.S)
    assert m, f"docs/python-client.md has no polars-coverage list for {kind}"
    return set(re.findall(r"`([a-z_][a-z0-9_]*)`", m.group(1)))


def test_lazyframe_coverage() -> None:
    polars_api, ours = _public(pl.LazyFrame), _public(sl.DataFrame)
    present = polars_api & ours
    print(f"\npolars {pl.__version__} LazyFrame: {len(present)}/{len(polars_api)} methods present")
    print("missing:", ", ".join(sorted(polars_api - ours)))
    claimed = _claimed("LazyFrame")
    unknown = sorted(claimed - polars_api)
    assert not unknown, f"claimed but not polars' names: {unknown}"
    assert not claimed - ours, f"claimed in the docs but missing: {sorted(claimed - ours)}"
    assert len(present) >= 60


def test_expr_coverage() -> None:
    polars_api, ours = _public(pl.Expr), _public(sl.Expr)
    present = polars_api & ours
    print(f"\npolars {pl.__version__} Expr: {len(present)}/{len(polars_api)} methods present")
    print("missing:", ", ".join(sorted(polars_api - ours)))
    claimed = _claimed("Expr")
    unknown = sorted(claimed - polars_api)
    assert not unknown, f"claimed but not polars' names: {unknown}"
    assert not claimed - ours, f"claimed in the docs but missing: {sorted(claimed - ours)}"
    assert len(present) >= 131


def test_functions_coverage() -> None:
    """The top-level functions a polars user reaches for (``pl.col``, ``pl.all``, ...)."""
    claimed = _claimed("functions")
    missing = {n for n in claimed if not hasattr(sl, n)}
    assert not missing, f"claimed in the docs but missing from slipstream: {sorted(missing)}"
    assert not {n for n in claimed if not hasattr(pl, n)}, "claimed names polars does not have"
    selectors = _claimed("selectors")
    assert not {n for n in selectors if not hasattr(sl.selectors, n)}
    assert not {n for n in selectors if not hasattr(pl.selectors, n)}
