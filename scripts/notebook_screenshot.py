"""Take the screenshots of the progress bar in a notebook in docs/.

Run: .venv/bin/python scripts/notebook_screenshot.py  (``make screenshots``)

Needs the ``screenshots`` extra (JupyterLab, ipywidgets) and Debian's
chromium and chromium-driver (``make browser``). Starts JupyterLab from this
interpreter on 127.0.0.1 with no token, in a temporary directory holding a
notebook that starts a local cluster of three nodes, uploads generated data
and runs a join that takes several seconds with ``progress=True``. Headless
Chromium (the same setup as python/tests/test_dashboard.py) opens the
notebook, runs its cells and saves docs/notebook-progress.png while the bar
moves and docs/notebook-progress-done.png once the result has arrived and the
bar has gone. The kernel imports the client from python/ of this checkout,
which starts $SLIPSTREAM_BIN or else bin/slipstream of the checkout (``make
build``). Everything started is stopped at the end: the notebook closes its
cluster, JupyterLab gets SIGTERM and shuts its kernel down, and any process
of theirs still running after that is killed by its pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python" / "tests"))

from _browser import chrome, missing  # noqa: E402

T = TypeVar("T")

# The big table's b matches 1/13 of the small table's rows: about 150M pairs
# to filter and count, 5-20 s on three local nodes sharing two cores.
BIG_ROWS = 150_000
SMALL_ROWS = 13_000

SETUP = f"""\
import pyarrow as pa

import slipstream as sl
from slipstream import col

cl = sl.connect(nodes=3)  # a local cluster: three nodes on loopback
n = {BIG_ROWS:_}
big = pa.table({{
    "a": pa.array(range(n), pa.int64()),
    "b": pa.array([i % 13 for i in range(n)], pa.int64()),
}})
cl.from_arrow(big, name="big")
cl.from_arrow(big.slice(0, {SMALL_ROWS:_}).rename_columns(["c", "d"]), name="small")
cl"""

QUERY = """\
pairs = (
    cl.table("big")
    .join(cl.table("small"), left_on="b", right_on="d")
    .filter((col("a") * col("c")) % 7 > col("b") % 5)
    .select(sl.len().alias("pairs"))
)
pairs.to_arrow(progress=True)"""

# The bar's line of figures: stage, tasks, rows and bytes read, elapsed time.
FIGURES = re.compile(r"stage \d+/\d+ \w+ · tasks (\d+)/(\d+) · read \S+ rows, [^·]+· [\d.]+s")


def notebook(path: Path) -> None:
    """Write the notebook the screenshots show."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# A progress bar for a query\n"
            "A query that runs longer than about a second shows its stage, tasks done, "
            "rows and bytes read and elapsed time while it runs."
        ),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell(QUERY),
        nbformat.v4.new_code_cell("cl.close()"),
    ]
    nbformat.write(nb, str(path))


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], within: float = 120) -> T:
    """Poll check until it returns something truthy; fail naming what was awaited."""
    deadline = time.monotonic() + within
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {within:.0f}s waiting for {what}")
        time.sleep(0.2)


def start_lab(work: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """JupyterLab on 127.0.0.1 serving work/notebooks, with no token; its URL and log."""
    settings = work / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No news or update checks: nothing leaves the machine, no toast in the shot.
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_DATA_DIR=str(work / "data"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(work / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
        IPYTHONDIR=str(work / "ipython"),
        # The kernel is this interpreter, importing the client of this checkout.
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "python"), env.get("PYTHONPATH")) if p),
        # 75 partitions: every node of the cluster has work.
        SLIPSTREAM_PART_ROWS="2000",
    )
    port = free_port()
    log = work / "jupyterlab.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            f"--ServerApp.root_dir={work / 'notebooks'}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",  # no registry looked up for extensions
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"JupyterLab exited with code {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url + "/api/status", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    wait_for("JupyterLab to answer on " + url, up, within=90)
    return proc, url, log


def tail(log: Path, lines: int = 30) -> str:
    """The last lines of a log."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def descendants(pid: int) -> list[int]:
    """Every process under pid, found through each process's parent in /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, parent in parents.items() if parent == p]
        found += kids
        todo += kids
    return found


# ------------------------------------------------------------- in the page

NOTEBOOK = """
const app = window.jupyterapp;
const w = app && app.shell.currentWidget;
if (!w || !w.content || !w.content.widgets || !w.sessionContext) return null;
"""


def kernel_idle(driver: Any) -> bool:
    """Whether the open notebook's kernel is started and idle."""
    return bool(
        driver.execute_script(
            NOTEBOOK + "const s = w.sessionContext.session;"
            " return !!(s && s.kernel && s.kernel.status === 'idle');"
        )
    )


def run_cell(driver: Any, index: int) -> None:
    """Make cell index the active one and run it (the Run menu's "Run Selected Cell")."""
    driver.execute_script(
        NOTEBOOK + "w.content.activeCellIndex = arguments[0];"
        " w.content.widgets[0].node.scrollIntoView({block: 'start'});"
        " app.commands.execute('notebook:run-cell');",
        index,
    )


def cell_done(driver: Any, index: int) -> bool:
    """Whether cell index has run to its end; fail with the error it raised."""
    state = driver.execute_script(
        NOTEBOOK + "const m = w.content.widgets[arguments[0]].model;"
        " const s = w.sessionContext.session;"
        " return [m.executionCount, m.outputs.toJSON(), s && s.kernel && s.kernel.status];",
        index,
    )
    if state is None:
        return False
    count, outputs, status = state
    for out in outputs:
        if out.get("output_type") == "error":
            trace = "\n".join(out.get("traceback", []))
            trace = re.sub(r"\x1b\[[0-9;]*m", "", trace)
            raise SystemExit(f"cell {index} failed: {out['ename']}: {out['evalue']}\n{trace}")
    return count is not None and status == "idle"


def bar_text(driver: Any, index: int) -> str | None:
    """The progress widget's text in cell index's output, or None when it shows none.

    The text is the bar's description, how far its filling is drawn (``42%``),
    and its line of figures.
    """
    return driver.execute_script(
        NOTEBOOK + "const c = w.content.widgets[arguments[0]].node;"
        " const bar = c.querySelector('.jp-OutputArea .widget-hprogress');"
        " if (!bar || !bar.offsetParent) return null;"
        " const box = bar.closest('.widget-hbox');"
        " const fill = bar.querySelector('.progress-bar');"
        " const pct = fill ? Math.round(parseFloat(fill.style.width) || 0) : 0;"
        " if (!box) return null;"
        " const figures = box.innerText.replace(bar.innerText, '').replace(/\\s+/g, ' ');"
        " return `${bar.innerText.trim()} ${pct}% ${figures.trim()}`;",
        index,
    )


def shoot(driver: Any, out: Path) -> None:
    """Save the browser's window as the PNG out."""
    driver.save_screenshot(str(out))
    print("wrote", out.relative_to(ROOT))


def drive(url: str, docs: Path) -> None:
    """Open the notebook, run it, and shoot the bar while it moves and after."""
    driver = chrome(1280, 1040)
    try:
        driver.get(url + "/lab/tree/progress.ipynb")
        wait_for("the notebook's kernel to start", lambda: kernel_idle(driver), within=120)
        # The notebook alone: no file browser beside it, no status bar under it
        # (whose kernel state lags behind the toolbar's).
        driver.execute_script(
            "const app = window.jupyterapp; app.shell.collapseLeft();"
            " app.commands.execute('statusbar:toggle');"
        )
        run_cell(driver, 1)
        wait_for("the cluster to start and the tables to upload", lambda: cell_done(driver, 1))

        run_cell(driver, 2)
        first = wait_for("the progress bar to show its figures", lambda: bar_text(driver, 2))
        print("bar:", first)
        seen = FIGURES.search(first)
        done0 = int(seen.group(1)) if seen else -1

        def moving() -> str | None:
            text = bar_text(driver, 2)
            if text is None:
                raise SystemExit("the query ended before its bar had moved: give it more rows")
            m = FIGURES.search(text)
            if not m:
                return None
            done, total = int(m.group(1)), int(m.group(2))
            drawn = re.search(r"(\d+)% ", text)
            moved = done > done0 and done >= 0.4 * total
            return text if moved and drawn and int(drawn.group(1)) > 0 else None

        text = wait_for("the bar to move on, with rows read", moving)
        print("bar:", text)
        shoot(driver, docs / "notebook-progress.png")

        wait_for("the query's result", lambda: cell_done(driver, 2))
        time.sleep(0.5)  # the result and the bar's removal rendered
        if bar_text(driver, 2) is not None:
            raise SystemExit("the bar is still shown after the result arrived")
        shoot(driver, docs / "notebook-progress-done.png")

        run_cell(driver, 3)  # cl.close(): the cluster stops
        wait_for("the cluster to stop", lambda: cell_done(driver, 3), within=60)
    finally:
        driver.quit()


def main() -> None:
    """Start JupyterLab, drive the notebook, stop everything."""
    why = missing()
    if why:
        raise SystemExit(f"cannot take screenshots: {why}")
    for module in ("jupyterlab", "ipywidgets", "nbformat"):
        try:
            __import__(module)
        except ImportError:
            raise SystemExit(
                f"{module} is not installed in {sys.executable}: "
                "pip install '.[screenshots]' (make screenshots does)"
            ) from None
    docs = ROOT / "docs"
    work = Path(tempfile.mkdtemp(prefix="slipstream-notebook-"))
    (work / "notebooks").mkdir()
    notebook(work / "notebooks" / "progress.ipynb")
    proc, url, log = start_lab(work)
    try:
        drive(url, docs)
    except BaseException:
        print(f"JupyterLab's log ends with:\n{tail(log)}", file=sys.stderr)
        raise
    finally:
        # The kernel and the nodes it started (in sessions of their own) are
        # noted first: SIGTERM makes JupyterLab shut its kernels down, whose
        # client stops its nodes; whatever is left of them is killed by pid.
        started = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        deadline = time.monotonic() + 15
        left = started
        while left and time.monotonic() < deadline:
            time.sleep(0.3)
            left = [p for p in left if alive(p)]
        for pid in left:
            print(f"killing process {pid}, left running after JupyterLab stopped", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether pid is a process that has not exited (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    main()
