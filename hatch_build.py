"""Hatchling build hook: compile the Go server into the wheel.

``pip install .`` runs this hook. It builds ``./cmd/slipstream`` with the Go
toolchain found on PATH (or in ``$GO``) and ships the binary as
``slipstream/bin/slipstream`` inside the wheel, which is therefore tagged for
this platform. Editable installs build into ``<root>/bin/slipstream`` instead,
where the client looks for a development binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BINARY = "slipstream.exe" if sys.platform == "win32" else "slipstream"


class GoBinaryBuildHook(BuildHookInterface):
    """Build the ``slipstream`` Go binary and add it to the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile the binary before hatchling assembles the wheel."""
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if version == "editable":
            # The source tree is imported directly; the client finds the
            # binary at <root>/bin/slipstream.
            self._go_build(root, root / "bin" / BINARY)
            return
        self._tmp = tempfile.mkdtemp(prefix="slipstream-build-")
        out = Path(self._tmp) / BINARY
        self._go_build(root, out)
        build_data["force_include"][str(out)] = f"slipstream/bin/{BINARY}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary build directory."""
        tmp = getattr(self, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    def _go_build(self, root: Path, out: Path) -> None:
        go = os.environ.get("GO") or shutil.which("go")
        if not go:
            raise RuntimeError(
                "building slipstream needs the Go toolchain (https://go.dev/dl/): "
                "`go` is not on PATH and $GO is not set"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [go, "build", "-trimpath", "-o", str(out), "./cmd/slipstream"]
        self.app.display_info(f"slipstream: {' '.join(cmd)}")
        result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(cmd)}` failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
