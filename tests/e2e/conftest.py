"""A real `streamlit run serve.py` (as the README's run command starts it) on 127.0.0.1,
and Debian's chromium driven by Playwright.

The browser tests take the README's screenshots; they write them into ``docs/`` only with
``FINML_SCREENSHOTS=1`` (so a test run never changes tracked files), else into the test's
temporary folder."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from finml.config import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
#: Streamlit marks its app root with the script's state; "notRunning" once a run is done.
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


@contextlib.contextmanager
def process(args: list[str], log_path, **popen):
    """Run ``args`` with its output in ``log_path``; yields the process and ends it after
    (terminate, then wait up to 20 s)."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **popen)
        try:
            yield proc
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@contextlib.contextmanager
def serving(log_path, *args: str, port: int | None = None):
    """``streamlit run serve.py`` on loopback ``port`` (default a free one) with extra
    ``args``; yields its URL once the health endpoint answers, and ends the server after."""
    port = port or _free_port()
    command = [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", *args]
    with process(command, log_path, cwd=PROJECT_ROOT, env=dict(os.environ)) as server:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _healthy(url):  # wait on the server's health endpoint
            assert server.poll() is None, "streamlit exited; see streamlit.log"
            assert time.monotonic() < deadline, "streamlit did not become healthy in 60 s"
            time.sleep(0.2)
        yield url


@pytest.fixture
def app_url(data_dir, reap, monkeypatch):
    """Start the app with the product defaults (warm spare on) in this test's data folder."""
    monkeypatch.setenv("FINML_WARM_WORKER", "1")
    with serving(data_dir.parent / "streamlit.log") as url:
        yield url


@pytest.fixture
def page(app_url):
    """A Playwright page in headless Debian chromium (never a downloaded browser)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # expect() has its own 5 s default

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def screenshot_path(name: str, tmp_path):
    """Where a browser test saves its screenshot ``name``: ``docs/`` when
    ``FINML_SCREENSHOTS=1`` is set, else the test's temporary folder."""
    if os.environ.get("FINML_SCREENSHOTS") == "1":
        return PROJECT_ROOT / "docs" / name
    return tmp_path / name
