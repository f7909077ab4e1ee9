"""A local stand-in for the arXiv API and the Hugging Face papers API: a threaded HTTP server
on 127.0.0.1 that replays the recorded records in tests/fixtures/ in the APIs' own formats
(Atom with opensearch paging; daily-papers JSON), logs every request, and injects faults
(status codes with headers, empty pages, slow answers, replaced or cut bodies, bodies dripped a
byte at a time) on demand."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ATOM_NS = 'xmlns="http://www.w3.org/2005/Atom"'
OS_NS = 'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
ARXIV_NS = 'xmlns:arxiv="http://arxiv.org/schemas/atom"'


def arxiv_records(batch: int | None = None) -> list[dict]:
    rows = json.loads((FIXTURES / "arxiv_records.json").read_text(encoding="utf-8"))
    return [r for r in rows if batch is None or r["batch"] == batch]


def hf_daily() -> dict[str, list[dict]]:
    return json.loads((FIXTURES / "hf_daily.json").read_text(encoding="utf-8"))


@dataclass
class Fault:
    path: str  # path prefix it applies to
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    empty_page: bool = False  # answer 200 with a page of no entries instead
    body: bytes | None = None  # answer `status` with this body instead (e.g. an HTML page)
    cut_at: int | None = None  # the real answer's first `cut_at` bytes, sent as if complete
    drip_seconds: float = 0.0  # send the real answer one byte per this many seconds


@dataclass
class Logged:
    at: float  # time.monotonic()
    path: str
    params: dict[str, str]
    status: int
    user_agent: str


def _entry(r: dict) -> str:
    arxiv_id = r.get("arxiv_id")
    version = f"v{r['version']}"
    ident = f"    <id>http://arxiv.org/abs/{arxiv_id}{version}</id>\n" if arxiv_id else ""
    authors = "".join(
        f"    <author>\n      <name>{escape(a)}</name>\n    </author>\n" for a in r["authors"]
    )
    optional = ""
    if r.get("doi"):
        optional += f"    <arxiv:doi {ARXIV_NS}>{escape(r['doi'])}</arxiv:doi>\n"
    if r.get("comment"):
        optional += f"    <arxiv:comment {ARXIV_NS}>{escape(r['comment'])}</arxiv:comment>\n"
    if r.get("journal_ref"):
        optional += (
            f"    <arxiv:journal_ref {ARXIV_NS}>{escape(r['journal_ref'])}</arxiv:journal_ref>\n"
        )
    links = ""
    if arxiv_id:
        links = (
            f'    <link href="http://arxiv.org/abs/{arxiv_id}{version}" rel="alternate" '
            'type="text/html"/>\n'
            f'    <link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}{version}" '
            'rel="related" type="application/pdf"/>\n'
        )
    categories = "".join(
        f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>\n'
        for c in r["categories"]
    )
    return (
        "  <entry>\n"
        f"{ident}"
        f"    <updated>{r['updated']}</updated>\n"
        f"    <published>{r['published']}</published>\n"
        f"    <title>{escape(r['title'])}</title>\n"
        f"    <summary>  {escape(r['abstract'])}\n</summary>\n"
        f"{authors}{optional}{links}"
        f'    <arxiv:primary_category {ARXIV_NS} term="{r["primary_category"]}" '
        'scheme="http://arxiv.org/schemas/atom"/>\n'
        f"{categories}"
        "  </entry>\n"
    )


def atom_page(entries: list[dict], total: int, start: int, size: int, query: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<feed {ATOM_NS}>\n"
        f'  <link href="http://arxiv.org/api/query?search_query%3D{escape(query)}%26id_list%3D'
        f'%26start%3D{start}%26max_results%3D{size}" rel="self" type="application/atom+xml"/>\n'
        f'  <title type="html">ArXiv Query: search_query={escape(query)}&amp;id_list=&amp;'
        f"start={start}&amp;max_results={size}</title>\n"
        "  <id>http://arxiv.org/api/fixture</id>\n"
        "  <updated>2026-07-01T00:00:00-04:00</updated>\n"
        f"  <opensearch:totalResults {OS_NS}>{total}</opensearch:totalResults>\n"
        f"  <opensearch:startIndex {OS_NS}>{start}</opensearch:startIndex>\n"
        f"  <opensearch:itemsPerPage {OS_NS}>{size}</opensearch:itemsPerPage>\n"
        + "".join(_entry(e) for e in entries)
        + "</feed>\n"
    )


def atom_error(message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<feed {ATOM_NS}>\n"
        f"  <opensearch:totalResults {OS_NS}>1</opensearch:totalResults>\n"
        "  <entry>\n    <id>http://arxiv.org/api/errors#incorrect_id_format</id>\n"
        "    <title>Error</title>\n"
        f"    <summary>{escape(message)}</summary>\n  </entry>\n</feed>\n"
    )


# `(query) AND lastUpdatedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]`, as arXiv's API takes it.
_RANGED = re.compile(r"^\((.*)\) AND (lastUpdatedDate|submittedDate):\[(\d{12}) TO (\d{12})\]$")


def _minute(stamp: str) -> str:
    return re.sub(r"\D", "", stamp)[:12]


def matches(record: dict, query: str) -> bool | None:
    """arXiv's field:term syntax for one term (cat:, all:, ti:, abs:), optionally ANDed with a
    date range on lastUpdatedDate or submittedDate; None if not understood."""
    ranged = _RANGED.match(query.strip())
    if ranged:
        inner, date_field, low, high = ranged.groups()
        stamp = _minute(record["updated" if date_field == "lastUpdatedDate" else "published"])
        found = matches(record, inner)
        return None if found is None else found and low <= stamp <= high
    field_name, sep, term = query.partition(":")
    if not sep:
        return None
    term = term.strip().strip('"').lower()
    if field_name == "cat":
        return term in [c.lower() for c in record["categories"]]
    text = {
        "ti": record["title"],
        "abs": record["abstract"],
        "all": f"{record['title']} {record['abstract']}",
    }.get(field_name)
    return None if text is None else term in " ".join(text.lower().split())


class FixtureServer:
    """`arxiv` holds the records the API currently knows (the latest version per id wins),
    `daily` the daily-papers lists by date, `hf_papers` single papers by arXiv id."""

    def __init__(self, delay: float = 0.0) -> None:
        self.arxiv: list[dict] = []
        self.daily: dict[str, list[dict]] = {}
        self.hf_papers: dict[str, dict] = {}
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.delay = delay
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def arxiv_url(self) -> str:
        return f"{self.url}/api/query"

    @property
    def hf_url(self) -> str:
        return f"{self.url}/api"

    def publish(self, records: list[dict]) -> None:
        """Records appear on arXiv; a newer version replaces the older one (same id)."""
        with self._lock:
            for r in records:
                if r.get("arxiv_id"):
                    self.arxiv = [x for x in self.arxiv if x.get("arxiv_id") != r["arxiv_id"]]
                self.arxiv.append(r)

    def requests(self, path: str = "") -> list[Logged]:
        with self._lock:
            return [r for r in self.log if r.path.startswith(path)]

    def start(self) -> FixtureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- answering ---
    def _fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        status, headers, body, _ = self.answer_with_fault(path, params)
        return status, headers, body

    def answer_with_fault(
        self, path: str, params: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes, Fault | None]:
        """The answer, and the fault that shapes how it is sent (cut or dripped), if any."""
        fault = self._fault(path)
        if fault and fault.body is not None:
            return fault.status, {"Content-Type": "text/html"}, fault.body, fault
        if fault and fault.cut_at is not None:
            # A body cut short upstream (a proxy, a server crash) but delivered as complete.
            status, headers, body = self._answer(path, params, empty=False)
            return status, headers, body[: fault.cut_at], fault
        if fault and fault.drip_seconds:
            return (*self._answer(path, params, empty=False), fault)
        if fault and not fault.empty_page:
            return fault.status, fault.headers, b"<html>fault injected</html>", fault
        return (*self._answer(path, params, empty=fault is not None), fault)

    def _answer(
        self, path: str, params: dict[str, str], empty: bool
    ) -> tuple[int, dict[str, str], bytes]:
        if path == "/api/query":
            return self._arxiv(params, empty=empty)
        if path == "/api/daily_papers":
            items = self.daily.get(params.get("date", ""), [])
            return 200, {"Content-Type": "application/json"}, json.dumps(items).encode()
        if path.startswith("/api/papers/"):
            paper = self.hf_papers.get(path.rsplit("/", 1)[-1])
            if paper is None:
                return 404, {"Content-Type": "application/json"}, b'{"error":"Not Found"}'
            return 200, {"Content-Type": "application/json"}, json.dumps(paper).encode()
        return 404, {}, b"not found"

    def _arxiv(self, params: dict[str, str], empty: bool) -> tuple[int, dict[str, str], bytes]:
        query = params.get("search_query", "")
        start = int(params.get("start", 0))
        size = int(params.get("max_results", 10))
        with self._lock:
            records = list(self.arxiv)
        hits = [r for r in records if matches(r, query)]
        if any(matches(r, query) is None for r in records[:1]):
            body = atom_error(f"unsupported query syntax: {query}")
            return 400, {"Content-Type": "application/atom+xml"}, body.encode()
        key = "updated" if params.get("sortBy") == "lastUpdatedDate" else "published"
        descending = params.get("sortOrder", "descending") == "descending"
        hits.sort(key=lambda r: (r[key], r.get("arxiv_id") or ""), reverse=descending)
        page = [] if empty else hits[start : start + size]
        body = atom_page(page, len(hits), start, size, query)
        return 200, {"Content-Type": "application/atom+xml; charset=utf-8"}, body.encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                arrived = time.monotonic()
                if server.delay:
                    time.sleep(server.delay)
                status, headers, body, fault = server.answer_with_fault(parts.path, params)
                with server._lock:
                    server.log.append(
                        Logged(
                            arrived,
                            parts.path,
                            params,
                            status,
                            self.headers.get("User-Agent", ""),
                        )
                    )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault and fault.drip_seconds:
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(fault.drip_seconds)
                else:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        return Handler
