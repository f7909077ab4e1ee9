"""Driving `hierograph ui` with headless Chromium (Debian's chromium + chromium-driver, installed
by `make browser-deps`): start the server on a free local port, open pages, wait for the chart.
Shared by tests/test_ui_browser.py and bench/bench_ui.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Flags that work in a container without a display, GPU or network access.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SLICE_TEXT = ".js-plotly-plot text.slicetext"


def browser_available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_ui(home: Path, *, startup_timeout: float = 180.0) -> Iterator[str]:
    """`hierograph --home HOME ui` on 127.0.0.1; yields its base URL, stops it afterwards."""
    port = free_port()
    cli = Path(sys.executable).with_name("hierograph")
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [str(cli), "--home", str(home), "ui", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--server.fileWatcherType", "none"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HIEROGRAPH_STORE": "sqlite"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"hierograph ui exited with {proc.returncode}:\n{log.read()}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hierograph ui did not answer on {url} in {startup_timeout} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    with tempfile.TemporaryDirectory(prefix="hg-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        # An explicit driver path: Selenium Manager then downloads nothing.
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def _js(driver: WebDriver, script: str, *args: object) -> object:
    """Read the page in one JS call: Streamlit re-renders often, and element handles kept across
    calls go stale."""
    return driver.execute_script(script, *args)


def chart_labels(driver: WebDriver, timeout: float = 120.0) -> list[str]:
    """Wait until the map's sunburst has drawn its slice labels; return them."""

    def labels(d: WebDriver) -> list[str] | bool:
        found = _js(
            d,
            "return Array.from(document.querySelectorAll(arguments[0]))"
            ".map(e => e.textContent).filter(t => t)",
            SLICE_TEXT,
        )
        return list(found) or False  # type: ignore[call-overload]

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(labels)


MAP_TEXT = ".js-plotly-plot g.textpoint text"


def map_labels(driver: WebDriver, timeout: float = 120.0) -> list[str]:
    """Wait until the paper map has drawn its points (a WebGL canvas) and its topic labels
    (SVG text); return the labels."""
    script = """
        const plot = document.querySelector('.js-plotly-plot');
        if (!plot || !plot.querySelector('canvas')) return false;
        const labels = Array.from(plot.querySelectorAll(arguments[0]))
            .map(e => e.textContent).filter(t => t);
        return labels.length ? labels : false;"""

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: _js(d, script, MAP_TEXT)
    )


def click_slice(driver: WebDriver, label: str, timeout: float = 30.0) -> None:
    """Click the sunburst slice labelled `label` (retried while the chart re-renders)."""

    def clicked(d: WebDriver) -> bool:
        try:
            for e in d.find_elements(By.CSS_SELECTOR, SLICE_TEXT):
                if e.text == label:
                    ActionChains(d).move_to_element(e).click().perform()
                    return True
        except StaleElementReferenceException:
            pass
        return False

    WebDriverWait(driver, timeout, poll_frequency=0.1).until(clicked)


def wait_for_heading(driver: WebDriver, text: str, timeout: float = 120.0) -> None:
    script = (
        "return Array.from(document.querySelectorAll('h1'))"
        ".some(h => h.textContent.trim() === arguments[0])"
    )
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: _js(d, script, text))


def wait_for_text(driver: WebDriver, text: str, timeout: float = 60.0) -> None:
    script = "return document.body.innerText.includes(arguments[0])"
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: _js(d, script, text))


def wait_until_drawn(driver: WebDriver, timeout: float = 60.0) -> None:
    """Until Streamlit has no loading placeholders left and every data grid has its canvas:
    widgets load lazily, and a screenshot taken earlier shows grey boxes."""
    script = """
        const frames = document.querySelectorAll('[data-testid="stDataFrame"]');
        const drawn = Array.from(frames).every(f => f.querySelector('canvas'));
        const waiting = document.querySelectorAll('[data-testid="stSkeleton"]').length;
        return drawn && waiting === 0;"""
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: _js(d, script))
