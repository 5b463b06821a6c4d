"""Every function the client sends is declared in the server's function registry.

The client builds calls by name (``col("x").cum_sum()`` sends ``cum_sum``);
the server declares each function once, in its Go registry, and lists it
with the ``list_functions`` action. This test reads the names the client's
source can send — the first argument of ``_call``, ``_rcall``, ``_window``,
``_horizontal`` and ``pb.Call(function=...)``, following a name to the
constants it is given in its function or at the calls of that function — and
checks each against the registry, so that a misspelt or removed function
fails here and not in a user's notebook.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl

import slipstream as sl

PACKAGE = Path(sl.__file__).resolve().parent
# The modules that build expressions (the client's own _call is a Flight call).
MODULES = ["_expr.py", "_frame.py", "selectors.py", "__init__.py"]
SENDERS = {"_call", "_rcall", "_window", "_horizontal"}
WINDOW_SENDERS = {"_window", "ranked"}
# Not functions but forms: the client rewrites these before a plan is sent
# (value_counts and mode into a group_by, explode into DataFrame.explode),
# and the planner builds filter and sort_by into the aggregate they stand in.
FORMS = {"value_counts", "mode", "explode", "filter", "sort_by"}


def _registry(cl: sl.Client) -> dict[str, dict[str, object]]:
    results = list(cl._flight.do_action(fl.Action("list_functions", b"")))
    return {f["name"]: f for f in json.loads(results[0].body.to_pybytes())["functions"]}


def _sent_name(call: ast.Call) -> ast.expr | None:
    """The expression a call passes as a function name, if it sends one."""
    for k in call.keywords:
        if k.arg == "function":
            return k.value
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
    if name in SENDERS and call.args:
        return call.args[0]
    return None


def _innermost(trees: list[ast.AST]) -> dict[int, ast.FunctionDef]:
    """The innermost function each node of the trees stands in, by node id."""
    scope: dict[int, ast.FunctionDef] = {}

    def visit(node: ast.AST, fn: ast.FunctionDef | None) -> None:
        if isinstance(node, ast.FunctionDef):
            fn = node
        if fn is not None:
            scope[id(node)] = fn
        for child in ast.iter_child_nodes(node):
            visit(child, fn)

    for tree in trees:
        visit(tree, None)
    return scope


def _assigned(scope: ast.FunctionDef, name: str) -> Iterator[ast.expr]:
    """The values assigned to a local of that name in scope."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            yield node.value


class _Names:
    """Resolves the expression at a name position to the strings it can be."""

    def __init__(self, trees: list[ast.AST]) -> None:
        self.scope = _innermost(trees)
        self.calls: dict[str, list[ast.Call]] = {}
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    f = node.func
                    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                    if name:
                        self.calls.setdefault(name, []).append(node)
        self.unresolved: list[str] = []

    def values(self, e: ast.expr, scope: ast.FunctionDef, depth: int = 0) -> set[str]:
        out: set[str] = set()
        if isinstance(e, ast.Constant) and isinstance(e.value, str):
            out = {e.value}
        elif isinstance(e, ast.IfExp):
            out = self.values(e.body, scope, depth) | self.values(e.orelse, scope, depth)
        elif isinstance(e, ast.JoinedStr):
            out = {""}
            for part in e.values:
                if isinstance(part, ast.FormattedValue):
                    options = self.values(part.value, scope, depth)
                else:
                    options = {str(getattr(part, "value", ""))}
                out = {a + b for a in out for b in options}
        elif isinstance(e, ast.Subscript) and isinstance(e.value, ast.Name):
            # functions[method]: every value of the dict literal of that name
            for d in _assigned(scope, e.value.id):
                if isinstance(d, ast.Dict):
                    for v in d.values:
                        out |= self.values(v, scope, depth)
        elif isinstance(e, ast.Name) and depth < 3:
            for v in _assigned(scope, e.id):  # a local given constants
                out |= self.values(v, scope, depth + 1)
            params = [a.arg for a in scope.args.args]
            if not out and e.id in params:  # a parameter: what its callers pass
                i = params.index(e.id) - (1 if params[0] == "self" else 0)
                for call in self.calls.get(scope.name, []):
                    if i < len(call.args):
                        out |= self.values(call.args[i], self.scope[id(call)], depth + 1)
        if not out:
            self.unresolved.append(f"{scope.name}: {ast.unparse(e)}")
        return out


def _sent(trees: list[ast.AST]) -> tuple[dict[str, set[str]], list[str]]:
    """Every function name the client can send, with the functions sending it."""
    names = _Names(trees)
    sent: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            e = _sent_name(node) if isinstance(node, ast.Call) else None
            if e is None or id(node) not in names.scope:
                continue
            scope = names.scope[id(node)]
            # the generic senders pass their own parameter on (their callers
            # are counted), and an existing call's name is sent again as is
            if isinstance(e, ast.Name) and scope.name in SENDERS | {"ranked", "_each"}:
                continue
            if isinstance(e, ast.Attribute) and e.attr == "function":
                continue
            for v in names.values(e, scope):
                sent.setdefault(v, set()).add(scope.name)
    return sent, names.unresolved


def test_client_sends_only_registry_functions(local_client: sl.Client) -> None:
    registry = _registry(local_client)
    trees = [ast.parse((PACKAGE / m).read_text(encoding="utf-8")) for m in MODULES]
    sent, unresolved = _sent(trees)
    assert not unresolved, f"names the test cannot follow to constants: {unresolved}"
    used = set(sent) & set(registry)
    print(f"\nthe client sends {len(used)} of the registry's {len(registry)} functions")
    assert len(sent) > 100, "the scan found too few names: is it still reading the client?"
    missing = {n: sorted(s) for n, s in sent.items() if n not in registry and n not in FORMS}
    assert not missing, f"the client sends functions the registry does not declare: {missing}"
    for name, senders in sent.items():
        if name not in FORMS and senders & WINDOW_SENDERS:
            assert registry[name]["kind"] in ("window", "aggregate"), (
                f"{name} is sent in over() but is {registry[name]}"
            )


def test_client_aggregates_are_the_registry_aggregates(local_client: sl.Client) -> None:
    """The client's list of aggregate names (it broadcasts and windows them) matches the kinds."""
    from slipstream._expr import _AGGREGATES

    registry = _registry(local_client)
    wrong = {n: registry.get(n, {}).get("kind") for n in _AGGREGATES}
    assert {n: k for n, k in wrong.items() if k != "aggregate"} == {}


def test_registry_lists_kinds(local_client: sl.Client) -> None:
    registry = _registry(local_client)
    assert registry["cum_sum"]["kind"] == "window"
    assert registry["sum"]["kind"] == "aggregate" and registry["sum"]["merges"]
    assert registry["median"]["kind"] == "aggregate" and not registry["median"].get("merges")
    assert registry["abs"]["kind"] == "scalar"
    sql_windows = sorted(n for n, f in registry.items() if f.get("sql_window"))
    assert sql_windows == ["dense_rank", "lag", "lead", "rank", "row_number"]


def test_window_function_outside_over_is_refused(local_client: sl.Client) -> None:
    import pytest

    from slipstream import _expr

    t = local_client.from_arrow(pa.table({"x": [1, 2, 3]}), "registry_t", mode="replace")
    bare = _expr.Expr(_expr.pb.Expr(call=_expr.pb.Call(function="cum_sum", args=[sl.col("x")._pb])))
    with pytest.raises(
        sl.SlipstreamError, match="cum_sum is a window function: use it inside over"
    ):
        t.select(bare).collect()
    # and inside over() it runs
    assert t.select(sl.col("x").cum_sum()).collect()["x"].to_list() == [1, 3, 6]
