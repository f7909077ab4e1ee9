"""`hierograph links check` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hierograph.cli import app
from hierograph.graph.method_models import CodeLink
from hierograph.graph.models import Paper
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.methods.linkcheck import LinkChecker, check_links

from .stores import BACKENDS, open_empty_store


class Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.hits: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.back = False  # /comeback answers 404 until this is set

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Site

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def answer(self, head: bool) -> None:
        site = self.server
        with site.lock:
            site.hits[f"{self.command} {self.path}"] += 1
            site.in_flight += 1
            site.max_in_flight = max(site.max_in_flight, site.in_flight)
            tries = site.hits[f"HEAD {self.path}"] + site.hits[f"GET {self.path}"]
        try:
            status, headers = self.route(head, tries)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "2")
            self.end_headers()
            if not head:
                self.wfile.write(b"ok")
        finally:
            with site.lock:
                site.in_flight -= 1

    def route(self, head: bool, tries: int) -> tuple[int, dict[str, str]]:
        path = self.path
        if path == "/ok":
            return 200, {}
        if path == "/gone":
            return 404, {}
        if path == "/nohead":
            return (405 if head else 200), {}
        if path == "/flaky":
            return (503 if tries == 1 else 200), {}
        if path == "/down":
            return 503, {}
        if path == "/comeback":
            return (200 if self.server.back else 404), {}
        if path == "/moved":
            return 301, {"Location": "/ok"}
        if path.startswith("/slow/"):
            time.sleep(0.15)
            return 200, {}
        return 404, {}

    def do_HEAD(self) -> None:
        self.answer(head=True)

    def do_GET(self) -> None:
        self.answer(head=False)


@contextmanager
def serving(server: Site) -> Iterator[Site]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    with serving(Site()) as server:
        yield server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fast_checker(concurrency: int = 4) -> LinkChecker:
    return LinkChecker(concurrency=concurrency, attempts=3, backoff_seconds=0.01, timeout_seconds=5)


def store_with_links(path: Path, urls: list[str]) -> SqliteStore:
    store = SqliteStore(path)
    store.upsert_papers(
        [Paper(id=f"p{i}", title=f"P{i}", abstract="a", code_urls=[u]) for i, u in enumerate(urls)]
    )
    store.replace_code_links([CodeLink(paper_id=f"p{i}", url=u) for i, u in enumerate(urls)])
    return store


def test_statuses_fallbacks_retries_and_dead_links(site: Site, tmp_path: Path) -> None:
    b = site.base
    unreachable = f"http://127.0.0.1:{closed_port()}/repo"
    urls = [f"{b}/ok", f"{b}/gone", f"{b}/nohead", f"{b}/flaky", f"{b}/down", f"{b}/moved"]
    with store_with_links(tmp_path / "s.sqlite", [*urls, unreachable]) as store:
        report = check_links(store, fast_checker())
        by_url = {r.url: r for r in store.repositories()}
    assert {r.url for r in report.checked} == {*urls, unreachable}
    assert (by_url[f"{b}/ok"].status, by_url[f"{b}/ok"].ok) == (200, True)
    assert (by_url[f"{b}/gone"].status, by_url[f"{b}/gone"].ok) == (404, False)
    # HEAD refused: a GET decides.
    assert by_url[f"{b}/nohead"].ok and site.hits["GET /nohead"] == 1
    # A 503 is retried; the second try answers.
    assert by_url[f"{b}/flaky"].status == 200 and site.hits["HEAD /flaky"] == 2
    # Still failing after every attempt: unknown (only 404/410 is dead), with the last status.
    assert (by_url[f"{b}/down"].status, by_url[f"{b}/down"].ok) == (503, None)
    assert site.hits["HEAD /down"] == 3
    assert by_url[f"{b}/moved"].status == 200  # redirects are followed
    assert by_url[unreachable].ok is None and "ConnectError" in by_url[unreachable].error
    assert all(r.checked_at for r in by_url.values())
    assert {r.url for r in report.dead} == {f"{b}/gone"}
    assert {r.url for r in report.unknown} == {f"{b}/down", unreachable}


@pytest.mark.parametrize("kind", BACKENDS)
def test_unreachable_is_unknown_and_a_later_success_clears_dead(kind, site, tmp_path) -> None:
    b = site.base
    unreachable = f"http://127.0.0.1:{closed_port()}/repo"
    no_dns = "http://no-such-host.invalid/repo"
    urls = [f"{b}/ok", f"{b}/gone", f"{b}/comeback", unreachable, no_dns]
    store = open_empty_store(kind, tmp_path / "home")
    try:
        store.upsert_papers(
            [
                Paper(id=f"p{i}", title=f"P{i}", abstract="a", code_urls=[u])
                for i, u in enumerate(urls)
            ]
        )
        store.replace_code_links([CodeLink(paper_id=f"p{i}", url=u) for i, u in enumerate(urls)])
        report = check_links(store, fast_checker())
        ok = {r.url: r.ok for r in store.repositories()}
        assert ok == {
            f"{b}/ok": True,
            f"{b}/gone": False,
            f"{b}/comeback": False,
            unreachable: None,
            no_dns: None,
        }
        assert {r.url for r in report.dead} == {f"{b}/gone", f"{b}/comeback"}
        assert {r.url for r in report.unknown} == {unreachable, no_dns}

        # Offline (the site stops answering at all): nothing becomes dead, earlier answers
        # stand, and an unreachable link is reported as unknown.
        port = site.server_address[1]
        site.shutdown()
        site.server_close()
        report = check_links(store, fast_checker())
        after = {r.url: (r.ok, r.status) for r in store.repositories()}
        assert after[f"{b}/ok"] == (True, 200) and after[f"{b}/gone"] == (False, 404)
        assert report.dead == [] and len(report.unknown) == len(urls)

        # Back online: the link that answers again is no longer dead.
        with serving(Site(port)) as again:
            again.back = True
            check_links(store, fast_checker())
        ok = {r.url: r.ok for r in store.repositories()}
        assert ok[f"{b}/comeback"] is True and ok[f"{b}/gone"] is False
    finally:
        store.close()


def test_concurrency_is_bounded(site: Site) -> None:
    urls = [f"{site.base}/slow/{i}" for i in range(12)]
    results = fast_checker(concurrency=3).check(urls)
    assert all(r.ok for r in results)
    assert 2 <= site.max_in_flight <= 3


def test_cli_links_check_reports_dead_links(site: Site, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    urls = [f"{site.base}/ok", f"{site.base}/gone"]
    store_with_links(home / "hierograph.sqlite", urls).close()
    env = {"HIEROGRAPH_LINK_CHECK_BACKOFF_SECONDS": "0.01", "COLUMNS": "200"}
    result = CliRunner(env=env).invoke(app, ["--home", str(home), "links", "check", "--quiet"])
    assert result.exit_code == 1, result.output
    assert f"dead {site.base}/gone 404" in result.output
    assert "2 links checked, 1 dead" in result.output
    with SqliteStore(home / "hierograph.sqlite") as store:
        assert [r.ok for r in store.repositories()] == [False, True]


def test_cli_links_check_without_links_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "empty"), "links", "check"])
    assert result.exit_code == 1 and "hierograph link" in result.output
