"""Take the screenshots of the dashboard in docs/.

Run: .venv/bin/python scripts/dashboard_screenshots.py

Starts a three-node cluster on loopback, uploads two tables, runs a few
queries and one slow query, and saves each page as headless Chromium shows
it (the same browser setup as python/tests/test_dashboard.py):
docs/dashboard-cluster.png, -queries.png, -query.png, -tables.png,
-config.png; then kills node n3 with SIGKILL while the slow query runs:
-query-node-killed.png and -cluster-node-killed.png.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python" / "tests"))

from _browser import chrome, missing  # noqa: E402

import slipstream as sl  # noqa: E402
from slipstream import col  # noqa: E402


def shoot(driver: object, url: str, out: Path, ready: str, settle: float = 1.5) -> None:
    """Open url, wait until the script ready is true, let it refresh once, save a PNG."""
    driver.get(url)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120
    while not driver.execute_script("return " + ready):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise SystemExit(f"{url}: {ready} never appeared")
        time.sleep(0.2)
    time.sleep(settle)
    driver.save_screenshot(str(out))  # type: ignore[attr-defined]
    print("wrote", out.relative_to(ROOT))


def js(selector: str) -> str:
    """A script expression: the element selector finds."""
    return f"document.querySelector({selector!r})"


def main() -> None:
    """Start the cluster, give it work, and shoot every page."""
    why = missing()
    if why:
        raise SystemExit(f"cannot take screenshots: {why}")
    docs = ROOT / "docs"
    os.environ["SLIPSTREAM_PART_ROWS"] = "5000"
    with sl.connect(nodes=3) as cl:
        n = 200_000
        trips = pa.table(
            {
                "trip_id": pa.array(range(n), pa.int64()),
                "vendor": pa.array([i % 13 for i in range(n)], pa.int64()),
                "fare": pa.array([(i % 97) * 0.5 for i in range(n)], pa.float64()),
            }
        )
        cl.from_arrow(trips, name="trips")
        vendors = pa.table({"vendor": list(range(13)), "name": [f"v{i}" for i in range(13)]})
        cl.from_arrow(vendors, name="vendors")
        trips_df = cl.table("trips")
        trips_df.group_by("vendor").agg(col("fare").sum().alias("total")).to_arrow()
        trips_df.join(cl.table("vendors"), on="vendor").group_by("name").agg(sl.len()).to_arrow()
        big = cl.from_arrow(trips.slice(0, 20_000).rename_columns(["a", "b", "c"]), name="small")
        slow = (
            trips_df.join(big, left_on="vendor", right_on="b")
            .filter((col("trip_id") * col("a")) % 7 > col("vendor") % 5)
            .select(sl.len().alias("n"))
        )
        handle = slow.to_arrow_async()
        url = cl.dashboard_url
        assert url
        driver = chrome(1280, 860)
        try:
            # The slow query is shot once a few of its tasks are done.
            bars = "[...document.querySelectorAll('#stages .bar')]"
            pages = [
                ("#cluster", "cluster", "!!" + js("#members")),
                ("#queries", "queries", "!!" + js("#queries")),
                ("#query/" + handle.query_id, "query", bars + ".some(b => b.dataset.done > 2)"),
                ("#tables", "tables", "!!" + js("section.table")),
                ("#config", "config", "!!" + js("#config")),
            ]
            for view, name, ready in pages:
                shoot(driver, url + view, docs / f"dashboard-{name}.png", ready)
            # kill -9 of n3 during the query: its attempts marked, their work retried.
            os.kill(node_pid(cl, "n3"), signal.SIGKILL)
            retried = (
                "[...document.querySelectorAll('.attempt')].some(a => /^retry/.test(a.textContent))"
            )
            query = "#query/" + handle.query_id
            shoot(driver, url + query, docs / "dashboard-query-node-killed.png", retried)
            failed = js('#members tr[data-member="n3"][data-state="failed"]')
            shoot(
                driver, url + "#cluster", docs / "dashboard-cluster-node-killed.png", "!!" + failed
            )
        finally:
            handle.cancel()
            driver.quit()


def node_pid(cl: sl.Client, name: str) -> int:
    """The pid of node name among the children of ``slipstream local``."""
    assert cl._node is not None
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        named = b"--name" in argv and argv[argv.index(b"--name") + 1 :][:1] == [name.encode()]
        if parent == cl._node.proc.pid and named:
            return int(entry)
    raise SystemExit(f"no node process named {name}")


if __name__ == "__main__":
    main()
