"""Headless Chromium driven by selenium: the dashboard's test and its screenshots.

Debian's ``chromium`` and ``chromium-driver`` (``make browser`` installs them)
are used as they are: selenium is given both paths, so it never looks for,
or downloads, a browser or driver of its own.
"""

from __future__ import annotations

import shutil
from typing import Any


def missing() -> str | None:
    """Why a browser cannot be driven here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[dev]')"
    for tool in ("chromium", "chromedriver"):
        if shutil.which(tool) is None:
            return (
                f"{tool} is not on PATH: `make browser` installs Debian's chromium and "
                "chromium-driver (apt-get install -y chromium chromium-driver)"
            )
    return None


def chrome(width: int = 1400, height: int = 1000) -> Any:
    """A headless Chromium session (the caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",  # the suite may run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    service = Service(executable_path=shutil.which("chromedriver") or "chromedriver")
    return webdriver.Chrome(options=opts, service=service)
