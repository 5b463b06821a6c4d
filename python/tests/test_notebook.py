"""The notebooks run top to bottom in a fresh kernel: quickstart.ipynb, and
timeseries.ipynb (join_asof, group_by_dynamic, rolling windows), which checks each
of its answers against polars as it goes."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOK = NOTEBOOKS / "quickstart.ipynb"


@pytest.fixture(scope="module")
def notebook() -> nbformat.NotebookNode:
    if not NOTEBOOK.exists():
        pytest.skip("run from a source checkout: notebooks/ is not installed")
    return nbformat.read(NOTEBOOK, as_version=4)


def test_committed_without_outputs(notebook: nbformat.NotebookNode) -> None:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_quickstart_runs(notebook: nbformat.NotebookNode, tmp_path: Path) -> None:
    # python3 resolves to the kernel of the running interpreter (ipykernel in this venv)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    texts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            texts.extend(str(v) for v in out.get("data", {}).values())
    joined = "\n".join(texts)
    assert "total" in joined and "東京タクシー" in joined
    assert "shape: (5, 3)" in joined, "to_polars() shows the top 5 vendors"


def test_timeseries_notebook_runs_and_matches_polars(tmp_path: Path) -> None:
    path = NOTEBOOKS / "timeseries.ipynb"
    if not path.exists():
        pytest.skip("run from a source checkout: notebooks/ is not installed")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()  # a cell that fails (an answer unlike polars') raises here
    texts = [
        str(v)
        for cell in nb.cells
        for out in cell.get("outputs", [])
        for v in [out.get("text", ""), *out.get("data", {}).values()]
    ]
    joined = "\n".join(texts)
    assert "ÜBERCORP" in joined and "avg3" in joined and "share" in joined
