"""The examples in the public docstrings run (those needing a node are marked +SKIP)."""

from __future__ import annotations

import doctest

import pytest

import slipstream
from slipstream import _client, _expr, _frame, selectors


@pytest.mark.parametrize("module", [slipstream, _client, _expr, _frame, selectors])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0
