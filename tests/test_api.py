"""The REST service, started for real (uvicorn on 127.0.0.1) over the built corpus in both
stores, called with httpx on every route."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hierograph.api import queries
from hierograph.api.context import ApiContext, open_context
from hierograph.api.rest import create_app
from hierograph.graph.factory import open_store
from hierograph.graph.store import GraphStore
from hierograph.settings import Settings
from tests.stores import BACKENDS
from tests.test_api_support import API_KEY, copy_built_home, running


class Served:
    def __init__(self, url: str, settings: Settings, store: GraphStore, ctx: ApiContext):
        self.url = url
        self.settings = settings
        self.store = store  # a second connection, to check answers against the store itself
        self.ctx = ctx
        self.http = httpx.Client(base_url=url, timeout=60)


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, built_corpus: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    home = tmp_path_factory.mktemp(f"api-{request.param}")
    settings = copy_built_home(built_corpus, home, request.param)
    with open_store(settings) as store:
        # The supplied page has no dates; give every paper one, so date filters have work.
        papers = list(store.iter_papers())
        store.replace_papers(
            [
                p.model_copy(update={"published": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"})
                for i, p in enumerate(papers)
            ]
        )
    ctx = open_context(settings)
    with running(create_app(settings, ctx)) as url, open_store(settings) as store:
        s = Served(url, settings, store, ctx)
        yield s
        s.http.close()
    ctx.close()


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] and body["message"]
    return body


def test_healthz_and_openapi(served: Served) -> None:
    health = served.http.get("/healthz").json()
    assert health == {
        "status": "ok",
        "store": served.settings.store,
        "papers": served.store.paper_count(),
        "topics": len(served.store.topics()),
    }
    schema = served.http.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/papers/search",
        "/papers/{paper_id}",
        "/topics/root",
        "/topics/{topic_id}",
        "/methods/{name}",
        "/code",
        "/find",
        "/corrections",
        "/healthz",
    ):
        assert path in schema["paths"], path
    props = schema["components"]["schemas"]["SearchPage"]["properties"]
    assert set(props) == {"results", "next_cursor"}


def _check_paths(store: GraphStore, paper_id: str, paths: list[list[dict]]) -> None:
    placed = {a.topic_id for a in store.assignments(paper_id=paper_id)}
    assert {p[-1]["id"] for p in paths} == placed
    root = store.root()
    for p in paths:
        assert p[0]["id"] == root.id
        for parent, child in zip(p, p[1:], strict=False):
            assert store.get_topic(child["id"]).parent == parent["id"]


def test_search_hybrid_ranks_title_match_first(served: Served) -> None:
    target = next(p for p in served.store.iter_papers() if len(p.title.split()) >= 5)
    page = served.http.get("/papers/search", params={"q": target.title, "limit": 5}).json()
    assert set(page) == {"results", "next_cursor"}
    assert page["results"][0]["id"] == target.id
    scores = [r["score"] for r in page["results"]]
    assert scores == sorted(scores, reverse=True)
    for r in page["results"]:
        assert set(r) == {"id", "title", "score", "topic_paths"}
        _check_paths(served.store, r["id"], r["topic_paths"])


def test_search_cursor_pages_are_the_full_ranking_in_order(served: Served) -> None:
    q = {"q": "preference optimization for language model alignment"}
    full = served.http.get("/papers/search", params={**q, "limit": 50}).json()["results"]
    seen, cursor = [], None
    while True:
        params = {**q, "limit": 4, **({"cursor": cursor} if cursor else {})}
        page = served.http.get("/papers/search", params=params).json()
        seen += [r["id"] for r in page["results"]]
        cursor = page["next_cursor"]
        if not cursor or len(seen) >= len(full):
            break
    assert seen[: len(full)] == [r["id"] for r in full][: len(seen)]
    assert len(seen) == len(set(seen)) >= 8
    # A cursor belongs to its query: replayed on another, or forged, it is refused.
    first = served.http.get("/papers/search", params={**q, "limit": 2}).json()["next_cursor"]
    other = served.http.get("/papers/search", params={"q": "reward", "cursor": first})
    assert "cursor" in _error(other, 422)["message"]
    forged = base64.urlsafe_b64encode(b"{not json").decode()
    _error(served.http.get("/papers/search", params={**q, "cursor": forged}), 422)


def test_search_filters(served: Served) -> None:
    store = served.store
    q = "language models"
    leaf = max((t for t in store.topics() if not store.children(t.id)), key=lambda t: t.size)
    topic = store.get_topic(leaf.parent)
    res = served.http.get("/papers/search", params={"q": q, "topic": topic.id, "limit": 50})
    ids = [r["id"] for r in res.json()["results"]]
    assert ids and set(ids) <= store.subtree_paper_ids(topic.id)
    # Within a topic every paper of the subtree is a candidate, not only the global top hits.
    assert len(ids) == min(50, len(store.subtree_paper_ids(topic.id)))

    dated = sorted(p.published[:10] for p in store.iter_papers() if p.published)
    lo, hi = dated[len(dated) // 4], dated[3 * len(dated) // 4]
    res = served.http.get(
        "/papers/search", params={"q": q, "published_from": lo, "published_to": hi, "limit": 50}
    ).json()["results"]
    assert res
    for r in res:
        assert lo <= store.get_paper(r["id"]).published[:10] <= hi
    bad = served.http.get(
        "/papers/search", params={"q": q, "published_from": hi, "published_to": lo}
    )
    assert "published_from" in _error(bad, 422)["message"]

    res = served.http.get("/papers/search", params={"q": q, "has_code": True, "limit": 50})
    with_code = [r["id"] for r in res.json()["results"]]
    assert with_code and all(store.get_paper(i).code_urls for i in with_code)

    link = store.method_links()[0]
    method = next(m for m in store.methods() if m.id == link.method_id)
    res = served.http.get("/papers/search", params={"q": q, "method": method.name, "limit": 50})
    linked = {x.paper_id for x in store.method_links(method_id=method.id)}
    found = {r["id"] for r in res.json()["results"]}
    assert found == linked  # every linked paper is a candidate and passes
    _error(served.http.get("/papers/search", params={"q": q, "topic": "no-such"}), 404)
    _error(served.http.get("/papers/search", params={"q": q, "method": "no-such"}), 404)


def test_paper_detail(served: Served) -> None:
    store = served.store
    pid = next(link.paper_id for link in store.method_links())
    paper = store.get_paper(pid)
    body = served.http.get(f"/papers/{pid}").json()
    assert body["title"] == paper.title and body["abstract"] == paper.abstract
    _check_paths(store, pid, body["topic_paths"])
    assert {m["id"] for m in body["methods"]} == {
        x.method_id for x in store.method_links(paper_id=pid)
    }
    assert set(paper.code_urls) <= set(body["code"])
    similar = [s["id"] for s in body["similar"]]
    assert pid not in similar and len(similar) == served.settings.api_similar_papers
    expected = [
        i for i, _ in store.semantic_search(store.get_embeddings([pid])[pid], 6) if i != pid
    ]
    assert similar == expected[: len(similar)]
    assert "no paper" in _error(served.http.get("/papers/not-a-paper"), 404)["message"]


def test_topics(served: Served) -> None:
    store = served.store
    root = served.http.get("/topics/root", params={"papers": 3}).json()
    assert root["id"] == store.root().id and root["path"] == [
        {"id": root["id"], "label": root["label"]}
    ]
    kids = store.children(root["id"])
    assert {c["id"] for c in root["children"]} == {k.id for k in kids}
    assert sum(c["size"] for c in root["children"]) >= len(
        {a.paper_id for a in store.assignments()}
    )
    assert len(root["top_papers"]) == 3
    child = root["children"][0]
    body = served.http.get(f"/topics/{child['id']}").json()
    assert [t["id"] for t in body["path"]] == [root["id"], child["id"]]
    topic = store.get_topic(child["id"])
    assert (body["label"], body["summary"], body["keywords"]) == (
        topic.label,
        topic.summary,
        topic.keywords,
    )
    below = store.subtree_paper_ids(child["id"])
    assert body["top_papers"] and {p["id"] for p in body["top_papers"]} <= below
    scores = [p["score"] for p in body["top_papers"]]
    assert scores == sorted(scores, reverse=True)
    _error(served.http.get("/topics/not-a-topic"), 404)


def test_methods_and_code(served: Served) -> None:
    store = served.store
    link = store.method_links()[0]
    method = next(m for m in store.methods() if m.id == link.method_id)
    for name in (method.id, method.name.upper()):
        body = served.http.get(f"/methods/{name}").json()
        assert body["id"] == method.id
        assert body["paper_count"] == len(store.method_links(method_id=method.id))
        assert link.paper_id in {p["id"] for p in body["papers"]} or body["paper_count"] > 10
    _error(served.http.get("/methods/no-such-method"), 404)
    answer = served.http.get("/code", params={"concept": method.name, "papers": 2}).json()
    expected = store.code_for(method.name)
    assert answer["matched"] == expected.matched == "method"
    assert [m["method"]["id"] for m in answer["methods"]] == [m.method.id for m in expected.methods]
    assert all(len(m["papers"]) <= 2 for m in answer["methods"])
    assert [i["url"] for i in answer["methods"][0]["implementations"]] == [
        i.url for i in expected.methods[0].implementations
    ]
    _error(served.http.get("/code", params={"concept": "zzzz qqqq"}), 404)


def _store_paths(store: GraphStore, paper_id: str) -> list[list[dict]]:
    rows = sorted(store.assignments(paper_id=paper_id), key=lambda a: (-a.score, a.topic_id))
    return [[{"id": t.id, "label": t.label} for t in store.ancestors(a.topic_id)] for a in rows]


def test_find_hybrid_by_default_and_every_hit_has_its_topic_paths(served: Served) -> None:
    store = served.store
    paper = next(p for p in store.iter_papers() if len(p.title.split()) >= 6)
    body = served.http.post("/find", json={"description": paper.title, "k": 4}).json()
    assert body["strategy"] == "hybrid" and body["steps"] == 1
    assert 1 <= len(body["results"]) <= 4 and body["results"][0]["id"] == paper.id
    for hit in body["results"]:
        assert hit["topic_paths"] and hit["topic_paths"] == _store_paths(store, hit["id"])
    # The path is the best hit's topic that matched the description best: one of its paths.
    assert body["path"] in body["results"][0]["topic_paths"]


def test_find_tree_and_flat(served: Served) -> None:
    store = served.store
    paper = next(p for p in store.iter_papers() if len(p.title.split()) >= 6)
    body = served.http.post(
        "/find", json={"description": paper.title, "k": 3, "strategy": "tree"}
    ).json()
    assert set(body) >= {"results", "path"} and body["strategy"] == "tree"
    assert 1 <= len(body["results"]) <= 3 and paper.id in [r["id"] for r in body["results"]]
    assert all(h["topic_paths"] == _store_paths(store, h["id"]) for h in body["results"])
    path = body["path"]
    assert path[0]["id"] == store.root().id and not store.children(path[-1]["id"])
    assert body["steps"] >= len(path) - 1
    top_leaves = {a.topic_id for a in store.assignments(paper_id=body["results"][0]["id"])}
    assert path[-1]["id"] in top_leaves
    flat = served.http.post(
        "/find", json={"description": paper.title, "k": 3, "strategy": "flat"}
    ).json()
    assert flat["path"] == [] and flat["steps"] == 1 and flat["results"][0]["id"] == paper.id
    assert all(h["topic_paths"] == _store_paths(store, h["id"]) for h in flat["results"])


def test_bad_input_gets_422_with_message(served: Served) -> None:
    http = served.http
    body = _error(http.post("/find", json={"description": "x" * 5000, "k": 3}), 422)
    assert "description" in body["message"] and body["details"]
    assert "k" in _error(http.post("/find", json={"description": "abc", "k": 0}), 422)["message"]
    _error(
        http.post("/find", content=b"{not json", headers={"content-type": "application/json"}), 422
    )
    _error(http.post("/find", json={"description": "abc", "surprise": 1}), 422)
    _error(http.get("/papers/search", params={"q": "a" * 501}), 422)
    _error(http.get("/papers/search", params={"q": "ok", "limit": 1000}), 422)
    _error(http.get("/papers/search", params={"q": "ok", "published_from": "yesterday"}), 422)
    big = json.dumps({"description": "y" * 100_000})
    assert (
        "limit"
        in _error(
            http.post("/find", content=big, headers={"content-type": "application/json"}), 422
        )["message"]
    )
    _error(http.get("/no/such/route"), 404)


def test_corrections_need_the_key(served: Served) -> None:
    http = served.http
    topic = served.store.children(served.store.root().id)[0]
    rename = {"kind": "rename_topic", "topic_id": topic.id, "label": "Renamed by API"}
    assert "API key" in _error(http.post("/corrections", json=rename), 401)["message"]
    _error(http.post("/corrections", json=rename, headers={"X-API-Key": "wrong"}), 401)
    before = len(served.store.corrections())
    assert len(served.store.corrections()) == before
    assert served.store.get_topic(topic.id).label == topic.label

    key = {"X-API-Key": API_KEY}
    done = http.post("/corrections", json=rename, headers=key)
    assert done.status_code == 201, done.text
    entry = done.json()
    assert entry["kind"] == "rename_topic" and entry["actor"] == served.settings.correction_actor
    assert http.get(f"/topics/{topic.id}").json()["label"] == "Renamed by API"
    assert served.store.corrections()[-1].id == entry["id"]
    undo = http.post(
        "/corrections", json={"kind": "undo", "correction_id": entry["id"]}, headers=key
    )
    assert undo.status_code == 201, undo.text
    assert http.get(f"/topics/{topic.id}").json()["label"] == topic.label
    again = http.post(
        "/corrections", json={"kind": "undo", "correction_id": entry["id"]}, headers=key
    )
    assert "already undone" in _error(again, 409)["message"]
    missing = {"kind": "rename_topic", "topic_id": "no-such", "label": "x"}
    _error(http.post("/corrections", json=missing, headers=key), 404)
    _error(http.post("/corrections", json={"kind": "explode"}, headers=key), 422)
    # The read routes never wrote: only the two accepted corrections were logged.
    assert len(served.store.corrections()) == before + 2


def test_request_log_and_rate_limit(served: Served) -> None:
    served.http.get("/healthz")
    log = (Path(served.settings.home) / "logs" / "api.log").read_text()
    assert "GET /healthz 200" in log and "POST /find 200" in log
    strict = served.settings.model_copy(update={"api_rate_burst": 3, "api_rate_per_second": 0.01})
    with running(create_app(strict, served.ctx)) as url, httpx.Client(base_url=url) as http:
        codes = [http.get("/topics/root").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = http.get("/topics/root")
        assert int(limited.headers["Retry-After"]) >= 1
        assert "retry in" in _error(limited, 429)["message"]
        assert http.get("/healthz").status_code == 200  # health checks are never limited


def test_a_crash_is_answered_500_and_logged(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(queries, "find", explode)
    body = _error(served.http.post("/find", json={"description": "reward hacking"}), 500)
    assert body["code"] == "internal" and "RuntimeError" in body["message"]
    log = (Path(served.settings.home) / "logs" / "api.log").read_text()
    assert "POST /find 500" in log and "unhandled error on POST /find" in log


def test_cli_serve_and_find(built_corpus: Settings) -> None:
    import os
    import subprocess
    import sys
    import time

    from tests.test_api_support import free_port

    env = {**os.environ, "HIEROGRAPH_HOME": str(built_corpus.home), "HF_HUB_OFFLINE": "1"}
    port = free_port()
    cli = [sys.executable, "-m", "hierograph.cli"]
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(30)
    with open_store(built_corpus) as store:
        assert health.json()["papers"] == store.paper_count()
        paper = next(iter(store.iter_papers()))
    out = subprocess.run(
        [*cli, "find", paper.title, "--k", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert paper.id in out.stdout and " › " in out.stdout
