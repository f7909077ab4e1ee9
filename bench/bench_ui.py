"""Time a page of `hierograph ui` in headless Chromium (Debian's chromium + chromium-driver:
`make browser-deps`): the Map (`--page map`, until the treemap has drawn its labels) or the
Paper map (`--page papers`, until the WebGL points and the topic labels are drawn).

- first load: a fresh server (nothing cached), a fresh browser;
- reload: the same page loaded again in the same browser (server caches warm);
- new session: a new browser profile against the warm server (no browser cache either);
- in-app: from the Topic page back to the Map through the sidebar (no page reload);
- script: the server-side page run alone (Streamlit AppTest), cold and warm.

    python bench/bench_ui.py --home DIR_WITH_A_BUILT_TREE [--page map|papers] [--repeat 5]
        [--out bench/out/ui.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from selenium.webdriver.common.by import By

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.ui_browser import (  # noqa: E402
    browser_available,
    chart_labels,
    chromium,
    map_labels,
    running_ui,
    wait_for_heading,
)

OUT = REPO / "bench" / "out" / "ui.json"


# page: (path, sidebar link's href ending, wait until drawn)
PAGES = {"map": ("", "/", chart_labels), "papers": ("/papers", "/papers", map_labels)}


def timed_load(driver, url: str, page: str = "map") -> float:  # noqa: ANN001
    path, _, drawn = PAGES[page]
    start = time.perf_counter()
    driver.get(url + path)
    drawn(driver)
    return time.perf_counter() - start


def in_app(driver, url: str, page: str = "map") -> float:  # noqa: ANN001
    _, href, drawn = PAGES[page]
    driver.get(f"{url}/topic")
    wait_for_heading(driver, "All papers")
    link = driver.find_element(By.CSS_SELECTOR, f'[data-testid="stSidebarNav"] a[href$="{href}"]')
    start = time.perf_counter()
    link.click()
    drawn(driver)
    return time.perf_counter() - start


def script_times(home: Path, repeat: int) -> dict[str, float]:
    os.environ["HIEROGRAPH_HOME"] = str(home)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "ui" / "app.py"), default_timeout=600)
    start = time.perf_counter()
    at.run()
    cold = time.perf_counter() - start
    warm = []
    for _ in range(repeat):
        start = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - start)
    assert not at.exception, at.exception
    return {"script_cold_s": round(cold, 3), "script_warm_s": round(statistics.median(warm), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="A home with a built tree.")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page", choices=sorted(PAGES), default="map")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if not browser_available():
        sys.exit("needs /usr/bin/chromium and /usr/bin/chromedriver: run `make browser-deps`")

    from hierograph.graph.sqlite_store import SqliteStore

    with SqliteStore(args.home / "hierograph.sqlite") as store:
        papers, topics = store.paper_count(), len(store.topics())
    result: dict[str, object] = {"page": args.page, "papers": papers, "topics": topics}
    result["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
    page = args.page
    with running_ui(args.home) as url:
        with chromium() as driver:
            result["first_load_s"] = round(timed_load(driver, url, page), 3)
            reloads = [timed_load(driver, url, page) for _ in range(args.repeat)]
            navs = [in_app(driver, url, page) for _ in range(args.repeat)]
        sessions = []
        for _ in range(args.repeat):
            with chromium() as driver:
                sessions.append(timed_load(driver, url, page))
    result["reload_s"] = round(statistics.median(reloads), 3)
    result["reload_max_s"] = round(max(reloads), 3)
    result["new_session_s"] = round(statistics.median(sessions), 3)
    result["in_app_s"] = round(statistics.median(navs), 3)
    result["in_app_max_s"] = round(max(navs), 3)
    if page == "map":  # the server-side run of the default page
        result.update(script_times(args.home, args.repeat))
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    result["python"] = platform.python_version()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
