"""`hierograph ui` in a real browser: the server started by the CLI on 127.0.0.1, the Map and a
Topic page loaded in headless Chromium, screenshots saved. Needs Debian's chromium and
chromium-driver (`make browser-deps`). With HIEROGRAPH_UPDATE_SCREENSHOTS=1 the screenshots also
replace docs/screenshots/*.png, the ones the README shows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from hierograph.settings import Settings
from tests.ui_browser import (
    browser_available,
    chart_labels,
    chromium,
    click_slice,
    map_labels,
    running_ui,
    wait_for_heading,
    wait_for_text,
    wait_until_drawn,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not browser_available(),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver: `make browser-deps`",
    ),
]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def keep(shot: Path) -> None:
    """Copy a screenshot into docs/, shrunk to a palette PNG so the README stays light."""
    if os.environ.get("HIEROGRAPH_UPDATE_SCREENSHOTS") != "1":
        return
    DOCS.mkdir(parents=True, exist_ok=True)
    image = Image.open(shot).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    image.save(DOCS / shot.name, optimize=True)
    assert (DOCS / shot.name).stat().st_size < 300_000


def test_map_and_topic_pages_in_chromium(built_corpus: Settings, built_store, tmp_path: Path):
    root = built_store.root()
    assert root is not None
    top = sorted(built_store.children(root.id), key=lambda t: t.id)
    leaf = max(
        (t for t in built_store.topics() if t.level >= 2 and not built_store.children(t.id)),
        key=lambda t: (len(built_store.assignments(topic_id=t.id)), t.id),
    )
    with running_ui(built_corpus.home) as url, chromium(1400, 1250) as driver:
        driver.get(url)  # the Map is the default page
        labels = chart_labels(driver)
        assert root.label in labels
        assert {t.label for t in top} <= set(labels)
        wait_for_text(driver, f"{built_store.paper_count()} papers in")
        wait_until_drawn(driver)
        shot = tmp_path / "map.png"
        driver.save_screenshot(str(shot))
        assert Image.open(shot).size[0] >= 1000
        keep(shot)

        # Click a top-level tile: plotly drills down, and only that topic's subtree stays on
        # the chart (with the root in the treemap's path bar above it).
        branch = top[0]
        subtree = {t.label for t in built_store.topics() if branch in built_store.ancestors(t.id)}
        click_slice(driver, branch.label)

        def drilled(d: WebDriver) -> bool:
            shown = set(chart_labels(d))
            return branch.label in shown and shown <= subtree | {root.label}

        WebDriverWait(driver, 30, poll_frequency=0.1).until(drilled)

        driver.get(f"{url}/topic?topic={leaf.id}")
        wait_for_heading(driver, leaf.label)
        wait_for_text(driver, f"Papers ({len(built_store.assignments(topic_id=leaf.id))})")
        wait_until_drawn(driver)
        shot = tmp_path / "topic.png"
        driver.save_screenshot(str(shot))
        keep(shot)


def test_paper_map_in_chromium(built_corpus: Settings, built_store, tmp_path: Path):
    """The Paper map page and the offline file of `hierograph plot`: points drawn (WebGL), the
    top-level labels visible on screen."""
    root = built_store.root()
    assert root is not None
    top = {t.label for t in built_store.children(root.id)}
    html = tmp_path / "map.html"
    from typer.testing import CliRunner

    from hierograph.cli import app

    made = CliRunner().invoke(app, ["--home", str(built_corpus.home), "plot", "--out", str(html)])
    assert made.exit_code == 0, made.output
    with running_ui(built_corpus.home) as url, chromium(1400, 1100) as driver:
        driver.get(f"{url}/papers")
        wait_for_heading(driver, "Paper map")
        assert top <= set(map_labels(driver))
        visible = driver.execute_script(
            "const box = document.querySelector('.js-plotly-plot').getBoundingClientRect();"
            "return Array.from(document.querySelectorAll(arguments[0])).filter(e => {"
            "  const r = e.getBoundingClientRect();"
            "  return r.width > 0 && r.left >= box.left && r.right <= box.right"
            "    && r.top >= box.top && r.bottom <= box.bottom;"
            "}).map(e => e.textContent);",
            ".js-plotly-plot g.textpoint text",
        )
        assert top <= set(visible), "the top-level labels are inside the chart, on screen"
        wait_until_drawn(driver)
        shot = tmp_path / "papers.png"
        driver.save_screenshot(str(shot))
        keep(shot)

        driver.get(html.as_uri())  # the offline file: nothing to load but itself
        assert top <= set(map_labels(driver))
