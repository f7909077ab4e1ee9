"""The Streamlit browser, page by page, with Streamlit's AppTest against real built stores: the
supplied corpus (built once per session) and a small hand-made store with publication dates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hierograph.curation.corrector import apply_corrector, review_queue, train_corrector
from hierograph.graph.models import Assignment, Hierarchy, Paper, Topic
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.graph.sync import copy_graph
from hierograph.settings import Settings, load_settings
from hierograph.ui import data
from hierograph.ui.launch import LaunchError, app_environment, streamlit_command
from tests.stores import open_empty_store

APP = Path(__file__).resolve().parents[1] / "ui" / "app.py"
KEY = "open-sesame"


def app(monkeypatch: pytest.MonkeyPatch, home: Path, editor_key: str | None = None) -> AppTest:
    monkeypatch.setenv("HIEROGRAPH_HOME", str(home))
    monkeypatch.setenv("HIEROGRAPH_STORE", "sqlite")
    if editor_key:
        monkeypatch.setenv("HIEROGRAPH_UI_EDITOR_KEY", editor_key)
    else:
        monkeypatch.delenv("HIEROGRAPH_UI_EDITOR_KEY", raising=False)
    # The first run imports plotly, pandas and the store code; later runs are fast.
    return AppTest.from_file(str(APP), default_timeout=180)


def open_page(at: AppTest, page: str, **params: str) -> AppTest:
    at.switch_page(f"views/{page}.py")
    at.query_params.clear()  # a browser's page link carries only its own parameters
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def links(at: AppTest) -> list[tuple[str, str, str]]:
    """(label, page, query string) of every page link shown."""
    return [(e.proto.label, e.proto.page, e.proto.query_string) for e in at.get("page_link")]


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def subtree_counts(store: SqliteStore) -> dict[str, int]:
    return {t.id: len(store.subtree_paper_ids(t.id)) for t in store.topics()}


# --- the Map ----------------------------------------------------------------------------------


def test_map_shows_every_topic_sized_by_papers(monkeypatch, built_corpus: Settings, built_store):
    at = app(monkeypatch, built_corpus.home)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Map of the field"
    topics = built_store.topics()
    counts = subtree_counts(built_store)
    assert f"{built_store.paper_count()} papers in {len(topics)} topics" in at.caption[0].value
    (spec,) = chart_specs(at)  # the supplied corpus has no dates: no trend chart
    trace = spec["data"][0]
    # The treemap by default: horizontal labels, legible at the first two levels.
    assert trace["type"] == "treemap" and trace["branchvalues"] == "total"
    by_id = dict(zip(trace["ids"], trace["customdata"], strict=True))
    assert set(by_id) == {t.id for t in topics}
    assert {tid: row[0] for tid, row in by_id.items()} == counts
    assert dict(zip(trace["ids"], trace["labels"], strict=True)) == {t.id: t.label for t in topics}
    assert at.info[0].value == "No publication dates in the data, so no trend to draw."
    root = built_store.root()
    assert root is not None
    top = [t for t in topics if t.parent == root.id]
    shown = links(at)
    for t in top:
        assert (f"{t.label} ({counts[t.id]:,})", "topic", f"topic={t.id}") in shown


def test_sunburst_switch(monkeypatch, built_corpus: Settings):
    at = app(monkeypatch, built_corpus.home)
    at.run()
    at.button_group[0].set_value("sunburst").run()
    assert chart_specs(at)[0]["data"][0]["type"] == "sunburst"


def test_paper_map_page(monkeypatch, built_corpus: Settings, built_store):
    at = open_page(app(monkeypatch, built_corpus.home), "papers")
    assert at.title[0].value == "Paper map"
    assert f"{built_store.paper_count():,} papers placed" in at.caption[0].value
    (spec,) = chart_specs(at)
    points = [t for t in spec["data"] if t["type"] == "scattergl"]
    assert sum(len(t["x"]) for t in points) == built_store.paper_count()
    # A click opens the Paper page: the points carry paper ids.
    ids = {row[0] for t in points for row in t["customdata"]}
    assert ids == {p.id for p in built_store.iter_papers()}
    root = built_store.root()
    labels = " ".join(s for t in spec["data"] if t.get("mode") == "text" for s in t["text"])
    for t in built_store.children(root.id):
        assert t.label in labels


# --- growth and trends, on a store with dates --------------------------------------------------


def dated_store(home: Path) -> SqliteStore:
    """root → A (A1, A2), B. A1's papers are all from the last month of the data, B's are old."""
    home.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(home / "hierograph.sqlite")
    dates = {
        "a1": ["2025-06-10", "2025-06-20", "2025-06-28", "2025-06-30"],
        "a2": ["2025-01-05", "2025-06-15", "2025-02-01"],
        "b": ["2025-01-10", "2025-02-11", "2025-03-12", "2025-03-13", "2025-01-30"],
    }
    papers, assignments = [], []
    for leaf, days in dates.items():
        for i, day in enumerate(days):
            pid = f"{leaf}-{i}"
            papers.append(Paper(id=pid, title=f"Paper {pid}", abstract="x", published=day))
            assignments.append(Assignment(paper_id=pid, topic_id=leaf, score=1 - i / 10))
    # a2-1 is in B too: multi-label papers count once per branch, once at the root.
    assignments.append(Assignment(paper_id="a2-1", topic_id="b", score=0.5))
    store.upsert_papers(papers)
    store.replace_hierarchy(
        Hierarchy(
            topics=[
                Topic(id="root", label="All papers"),
                Topic(id="a", label="Alpha", parent="root", level=1),
                Topic(id="b", label="Beta", parent="root", level=1),
                Topic(id="a1", label="Alpha one", parent="a", level=2),
                Topic(id="a2", label="Alpha two", parent="a", level=2),
            ],
            assignments=assignments,
        )
    )
    return store


def test_growth_counts_and_trend(tmp_path: Path):
    with dated_store(tmp_path / "home") as store:
        view = data.load_tree(store, recent_days=30)
    assert view.recent_since == "2025-06-01"
    assert view.paper_count("root") == 12 and view.paper_count("a") == 7
    assert view.paper_count("b") == 6
    assert view.growth("a1") == 1.0
    assert view.growth("a2") == pytest.approx(1 / 3)
    assert view.growth("b") == pytest.approx(1 / 6)
    assert view.growth("root") == pytest.approx(5 / 12)
    frame = data.map_frame(view).set_index("id")
    # Sunburst "total" mode: every parent's weight is the sum of its children's.
    assert frame.loc["a", "weight"] == frame.loc["a1", "weight"] + frame.loc["a2", "weight"]
    assert frame.loc["root", "weight"] == 13 and frame.loc["root", "papers"] == 12
    trend = data.trend_frame(view)
    alpha = dict(trend[trend.topic == "Alpha"][["month", "papers"]].itertuples(index=False))
    assert alpha == {"2025-01": 1, "2025-02": 1, "2025-06": 5}
    assert [t.label for t, _, _ in data.fastest_growing(view, 2, 3)] == ["Alpha one", "Alpha two"]


def test_map_colours_by_growth_and_draws_trends(monkeypatch, tmp_path: Path):
    home = tmp_path / "home"
    dated_store(home).close()
    (home / "config.toml").write_text("ui_recent_days = 30\nui_growing_min_papers = 3\n")
    at = app(monkeypatch, home)
    at.run()
    assert not at.exception, at.exception
    assert "share published since 2025-06-01" in at.caption[0].value
    sunburst, trend = chart_specs(at)
    marker = sunburst["data"][0]["marker"]
    assert marker["colorscale"] and marker["cmid"] == pytest.approx(5 / 12)
    assert {t["name"] for t in trend["data"]} == {"Alpha", "Beta"}
    shown = [label for label, page, _ in links(at) if page == "topic"]
    assert "Alpha one · 100% of 4 papers recent" in shown


# --- Topic ------------------------------------------------------------------------------------


def pick_leaf(store: SqliteStore) -> Topic:
    """A leaf below a top-level topic with the most papers: breadcrumbs have three steps."""
    topics = store.topics()
    parents = {t.parent for t in topics}
    deep = [t for t in topics if t.id not in parents and t.level >= 2]
    return max(deep, key=lambda t: (len(store.assignments(topic_id=t.id)), t.id))


def test_topic_page(monkeypatch, built_corpus: Settings, built_store):
    leaf = pick_leaf(built_store)
    at = open_page(app(monkeypatch, built_corpus.home), "topic", topic=leaf.id)
    assert at.title[0].value == leaf.label
    path = built_store.ancestors(leaf.id)
    shown = links(at)
    for step in path[:-1]:
        assert (f"{step.label} ›", "topic", f"topic={step.id}") in shown
    assert at.markdown[0].value == f"**{leaf.label}**"
    assert [c.value for c in at.code] == [leaf.id], "the id, copyable"
    assert any(m.value == "**Keywords:** " + ", ".join(leaf.keywords) for m in at.markdown)
    table = at.dataframe[0].value
    rows = built_store.assignments(topic_id=leaf.id)
    assert len(table) == len(rows)
    assert list(table["score"]) == sorted(table["score"], reverse=True)
    assert set(table["origin"]) == {a.origin for a in rows}
    first = max(rows, key=lambda a: (a.score, a.paper_id))
    paper = built_store.get_paper(first.paper_id)
    assert paper is not None
    assert table["title"].iloc[0] == f"paper?paper={paper.id}#{paper.title}"
    dims = {f.dimension for a in rows for f in built_store.facets(paper_id=a.paper_id)}
    assert dims and {f"**{d}**" for d in dims} <= {m.value for m in at.markdown}
    methods = built_store.code_for(leaf.id).methods
    for mc in methods[:5]:
        assert any(m.value.startswith(f"**{mc.method.name}** — ") for m in at.markdown)


def test_topic_page_lists_subtopics_with_counts(monkeypatch, built_corpus: Settings, built_store):
    counts = subtree_counts(built_store)
    parent = pick_leaf(built_store).parent
    assert parent is not None
    at = open_page(app(monkeypatch, built_corpus.home), "topic", topic=parent)
    kids = built_store.children(parent)
    assert at.subheader[0].value == f"Subtopics ({len(kids)})"
    shown = links(at)
    for kid in kids:
        assert (f"{kid.label} ({counts[kid.id]:,})", "topic", f"topic={kid.id}") in shown
    assert len(at.dataframe[0].value) == counts[parent]


def test_unknown_topic_falls_back_to_the_root(monkeypatch, built_corpus: Settings):
    at = open_page(app(monkeypatch, built_corpus.home), "topic", topic="no-such-topic")
    assert "No topic 'no-such-topic'" in at.warning[0].value
    assert at.title[0].value == "All papers"


# --- Paper ------------------------------------------------------------------------------------


def test_paper_page(monkeypatch, built_corpus: Settings, built_store):
    coded = [p for p in built_store.iter_papers() if p.code_urls]
    paper = max(coded, key=lambda p: (len(built_store.method_links(paper_id=p.id)), p.id))
    at = open_page(app(monkeypatch, built_corpus.home), "paper", paper=paper.id)
    assert at.title[0].value == paper.title
    buttons = {(b.proto.label, b.proto.url) for b in at.get("link_button")}
    for url in paper.code_urls:
        assert (f"Code: {url.split('://')[-1]}", url) in buttons
    assert paper.abstract in [m.value for m in at.markdown]
    shown = links(at)
    places = built_store.assignments(paper_id=paper.id)
    topic_links = [s for s in shown if s[1] == "topic"]
    assert {q for _, _, q in topic_links} == {f"topic={a.topic_id}" for a in places}
    for a in places:
        label = next(lbl for lbl, _, q in topic_links if q == f"topic={a.topic_id}")
        assert label.endswith(f"· score {a.score:.3f} ({a.origin})")
        assert built_store.get_topic(a.topic_id).label in label  # type: ignore[union-attr]
    method_links = built_store.method_links(paper_id=paper.id)
    assert method_links
    assert {q for _, page, q in shown if page == "code"} == {
        f"method={m.method_id}" for m in method_links
    }
    similar = [s for s in shown if s[1] == "paper"]
    assert len(similar) == load_settings().ui_similar_papers
    assert f"paper={paper.id}" not in {q for _, _, q in similar}
    vector = built_store.get_embeddings([paper.id])[paper.id]
    nearest = [pid for pid, _ in built_store.semantic_search(vector, 3) if pid != paper.id][0]
    assert similar[0][2] == f"paper={nearest}"


def test_paper_page_with_arxiv_links(monkeypatch, tmp_path: Path):
    home = tmp_path / "home"
    with dated_store(home) as store:
        store.upsert_papers(
            [
                Paper(
                    id="2501.01234",
                    arxiv_id="2501.01234",
                    title="On X",
                    abstract="We study X.",
                    upvotes=17,
                    project_page="https://x.example.org/",
                    github_repo="https://github.com/x/on-x",
                )
            ]
        )
    at = open_page(app(monkeypatch, home), "paper", paper="2501.01234")
    buttons = {(b.proto.label, b.proto.url) for b in at.get("link_button")}
    assert ("arXiv", "https://arxiv.org/abs/2501.01234") in buttons
    assert ("PDF", "https://arxiv.org/pdf/2501.01234") in buttons
    assert ("Project page", "https://x.example.org/") in buttons
    assert ("Code: github.com/x/on-x", "https://github.com/x/on-x") in buttons
    assert "17 upvotes on Hugging Face" in at.main.caption[0].value
    assert [c.value for c in at.code] == ["2501.01234"], "the id, copyable"
    assert at.main.caption[-1].value == "This paper has no embedding yet (run `hierograph build`)."


def test_unknown_paper_says_so(monkeypatch, built_corpus: Settings):
    at = open_page(app(monkeypatch, built_corpus.home), "paper", paper="nope")
    assert "No paper 'nope' in the store" in at.error[0].value


# --- Search -----------------------------------------------------------------------------------


def search(at: AppTest, query: str) -> list[str]:
    at.text_input[0].input(query).run()
    assert not at.exception, at.exception
    return [q.removeprefix("paper=") for _, page, q in links(at) if page == "paper"]


def test_search_finds_a_paper_by_its_words(monkeypatch, built_corpus: Settings, built_store):
    target = next(p for p in built_store.iter_papers() if "DeAL" in p.title)
    at = open_page(app(monkeypatch, built_corpus.home), "search")
    found = search(at, target.title)
    # Full text ranks it first; the title-only query embedding may prefer a close neighbour.
    assert target.id in found[:3]
    assert len(found) == load_settings().ui_search_results
    # Results carry their topic paths (below the root).
    shown = {c.value for c in at.caption if c.value.startswith("↳ ")}
    for a in built_store.assignments(paper_id=target.id):
        path = [t.label for t in built_store.ancestors(a.topic_id)[1:]]
        assert "↳ " + data.PATH_SEPARATOR.join(path) in shown


def test_search_hits_sort_by_date_and_upvotes():
    briefs = {
        "a": data.PaperBrief("a", "A", "2025-01-02", False, upvotes=3),
        "b": data.PaperBrief("b", "B", None, False, upvotes=None),
        "c": data.PaperBrief("c", "C", "2025-03-01", True, upvotes=40),
        "d": data.PaperBrief("d", "D", "2024-12-31", False, upvotes=3),
    }

    class Hit:
        def __init__(self, id: str) -> None:
            self.id = id

    hits = [Hit(i) for i in "abcd"]  # relevance order
    order = {by: [h.id for h in data.sort_hits(hits, briefs, by)] for by in data.SORTS}
    assert order == {
        "relevance": ["a", "b", "c", "d"],
        "newest": ["c", "a", "d", "b"],
        "upvotes": ["c", "a", "d", "b"],  # ties (a, d) keep the relevance order
    }


def test_search_sorts_from_the_page(monkeypatch, built_corpus: Settings, built_store):
    at = open_page(app(monkeypatch, built_corpus.home), "search")
    relevance = search(at, "reward model")
    at.selectbox[1].set_value("upvotes").run()
    assert not at.exception, at.exception
    by_votes = [q.removeprefix("paper=") for _, page, q in links(at) if page == "paper"]
    # The supplied corpus has no upvotes: the same hits, in the relevance order.
    assert by_votes == relevance
    assert "sorted by upvotes" in " ".join(c.value for c in at.caption)


def test_search_filters_by_topic_and_code(monkeypatch, built_corpus: Settings, built_store):
    at = open_page(app(monkeypatch, built_corpus.home), "search")
    root = built_store.root()
    assert root is not None
    branch = max(
        built_store.children(root.id), key=lambda t: len(built_store.subtree_paper_ids(t.id))
    )
    at.selectbox[0].set_value(branch.id)
    found = search(at, "alignment of language models")
    assert found and set(found) <= built_store.subtree_paper_ids(branch.id)
    at.selectbox[0].set_value(None)
    at.checkbox[0].check()
    found = search(at, "alignment of language models")
    coded = {p.id for p in built_store.iter_papers() if p.code_urls}
    assert found and set(found) <= coded


# --- Concept → code ---------------------------------------------------------------------------


def test_code_page_from_a_method(monkeypatch, built_corpus: Settings, built_store):
    at = open_page(app(monkeypatch, built_corpus.home), "code", method="dpo")
    answer = built_store.code_for("dpo").methods[0]
    assert at.subheader[0].value == answer.method.name
    table = at.dataframe[0].value
    assert list(table["url"]) == [i.url for i in answer.implementations]
    assert list(table["rank"]) == [i.rank for i in answer.implementations]
    assert at.code[0].value == "hierograph reproduce dpo --out recipes/"
    shown = [q for _, page, q in links(at) if page == "paper"]
    assert shown == [f"paper={p.paper_id}" for p in answer.papers][: len(shown)]
    assert len(shown) == min(len(answer.papers), load_settings().ui_code_papers)


def test_code_page_from_a_topic(monkeypatch, built_corpus: Settings, built_store):
    rows = built_store.topic_methods()
    assert rows, "the build links methods to topics"
    topic_id = rows[0].topic_id
    at = open_page(app(monkeypatch, built_corpus.home), "code", topic=topic_id)
    names = [m.method.name for m in built_store.code_for(topic_id).methods]
    assert [s.value for s in at.subheader] == names


# --- Review and corrections -------------------------------------------------------------------


@pytest.fixture
def editable_home(built_corpus: Settings, tmp_path: Path) -> Path:
    """A copy of the built corpus with the corrector trained and applied (a review queue)."""
    home = tmp_path / "editable"
    home.mkdir()
    for name in ("hierograph.sqlite", "embeddings.sqlite"):
        shutil.copy(built_corpus.home / name, home / name)
    settings = load_settings(home=home)
    with SqliteStore(settings.db_path()) as store:
        train_corrector(store, settings)
        apply_corrector(store, settings)
        assert review_queue(store, 5)
    return home


def test_review_is_absent_without_an_editor_key(monkeypatch, built_corpus: Settings):
    at = app(monkeypatch, built_corpus.home)
    at.run()
    assert "Read-only" in at.sidebar.caption[-1].value
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/review.py")


def test_review_stays_locked_until_the_key_is_typed(monkeypatch, editable_home: Path):
    at = open_page(app(monkeypatch, editable_home, KEY), "review")
    assert at.info[0].value.startswith("Editing is locked")
    at.sidebar.text_input(key="editor_key_input").input("wrong").run()
    assert at.sidebar.error[0].value == "Wrong editor key."
    assert not at.button


def unlocked_review(monkeypatch: pytest.MonkeyPatch, home: Path) -> AppTest:
    at = app(monkeypatch, home, KEY)
    at.run()
    at.sidebar.text_input(key="editor_key_input").input(KEY).run()
    return open_page(at, "review")


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def topic_table(at: AppTest, topic_id: str) -> dict[str, str]:
    """paper id → origin, as the Topic page shows them."""
    open_page(at, "topic", topic=topic_id)
    table = at.dataframe[0].value
    ids = [t.split("#", 1)[0].removeprefix("paper?paper=") for t in table["title"]]
    return dict(zip(ids, table["origin"], strict=True))


def test_review_corrections_show_on_the_topic_page(monkeypatch, editable_home: Path):
    at = unlocked_review(monkeypatch, editable_home)
    store = SqliteStore(editable_home / "hierograph.sqlite")
    queue = review_queue(store, load_settings(home=editable_home).ui_review_queue)
    assert len(at.dataframe[0].value) == len(queue)

    # Confirm the first queue item: its assignment becomes a human one.
    item = queue[0]
    click(at, "Confirm")
    assert at.success[0].value == "Correction #1 (add_topic) applied."
    assert topic_table(at, item.topic_id)[item.paper_id] == "human"

    # Move the next item's paper to another leaf.
    open_page(at, "review")
    item = review_queue(store, 1)[0]
    placed = {a.topic_id for a in store.assignments(paper_id=item.paper_id)}
    leaves = [t.id for t in store.topics() if not store.children(t.id)]
    target = next(t for t in leaves if t not in placed)
    at.selectbox(key="move_to").set_value(target).run()
    click(at, "Move")
    assert at.success[0].value == "Correction #2 (move_paper) applied."
    assert topic_table(at, target)[item.paper_id] == "human"
    assert item.paper_id not in topic_table(at, item.topic_id)

    # Rename a topic; the Topic page shows the new label at once.
    open_page(at, "review")
    topic_id = at.selectbox(key="edit_topic").value
    at.text_input(key="new_label").input("Reward hacking studies").run()
    click(at, "Rename")
    open_page(at, "topic", topic=topic_id)
    assert at.title[0].value == "Reward hacking studies"

    # Undo the last action (the rename).
    open_page(at, "review")
    click(at, "Undo #3")
    assert at.success[0].value == "Correction #4 (undo) applied."
    open_page(at, "topic", topic=topic_id)
    assert at.title[0].value == store.get_topic(topic_id).label != "Reward hacking studies"  # type: ignore[union-attr]

    # Merge two leaves: the target holds the papers of both.
    open_page(at, "review")
    leaf_ids = [t.id for t in store.topics() if not store.children(t.id)]
    source, into = leaf_ids[0], leaf_ids[1]
    expected = {a.paper_id for t in (source, into) for a in store.assignments(topic_id=t)}
    at.selectbox(key="edit_topic").set_value(source).run()
    at.selectbox(key="merge_into").set_value(into).run()
    click(at, "Merge")
    assert at.success[0].value == "Correction #5 (merge_topics) applied."
    assert set(topic_table(at, into)) == expected
    assert store.get_topic(source) is None
    kinds = [c.kind for c in store.corrections()]
    assert kinds == ["add_topic", "move_paper", "rename_topic", "undo", "merge_topics"]
    store.close()


def test_refused_correction_shows_the_reason(monkeypatch, editable_home: Path):
    at = unlocked_review(monkeypatch, editable_home)
    at.text_input(key="new_label").input("   ").run()
    click(at, "Rename")
    assert "the new label is empty" in at.error[0].value


# --- on Neo4j ---------------------------------------------------------------------------------


def test_pages_and_corrections_on_neo4j(monkeypatch, built_corpus: Settings, built_store, tmp_path):
    """The same browser on the Neo4j store: the built corpus copied over, pages read from Neo4j,
    a correction written to it shows on the Topic page."""
    home = tmp_path / "neo"
    store = open_empty_store("neo4j", home)
    try:
        copy_graph(built_store, store)
        store.replace_facets(built_store.facets())
        store.replace_methods(built_store.methods())
        store.replace_method_links(built_store.method_links())
        store.replace_topic_methods(built_store.topic_methods())
        store.replace_code_links(built_store.code_links())
        at = app(monkeypatch, home, KEY)
        monkeypatch.setenv("HIEROGRAPH_STORE", "neo4j")
        at.run()
        assert not at.exception, at.exception
        assert at.sidebar.caption[0].value.startswith("neo4j · bolt://")
        (spec,) = chart_specs(at)
        trace = spec["data"][0]
        assert {
            tid: row[0] for tid, row in zip(trace["ids"], trace["customdata"], strict=True)
        } == (subtree_counts(built_store))
        leaf = pick_leaf(built_store)
        open_page(at, "topic", topic=leaf.id)
        assert at.title[0].value == leaf.label
        assert len(at.dataframe[0].value) == len(built_store.assignments(topic_id=leaf.id))
        open_page(at, "code", method="dpo")
        assert at.code[0].value == "hierograph reproduce dpo --out recipes/"

        at.sidebar.text_input(key="editor_key_input").input(KEY).run()
        open_page(at, "review")
        assert "corrector apply" in at.info[0].value  # no review queue in this copy
        at.selectbox(key="edit_topic").set_value(leaf.id).run()
        at.text_input(key="new_label").input("Renamed on Neo4j").run()
        click(at, "Rename")
        open_page(at, "topic", topic=leaf.id)
        assert at.title[0].value == "Renamed on Neo4j"
        assert store.get_topic(leaf.id).label == "Renamed on Neo4j"  # type: ignore[union-attr]
    finally:
        store.close()


# --- `hierograph ui` --------------------------------------------------------------------------


def test_streamlit_options_pass_through(tmp_path: Path):
    cmd = streamlit_command(["--server.port", "8502", "--server.headless", "true"])
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(APP)
    assert cmd[-4:] == ["--server.port", "8502", "--server.headless", "true"]
    assert "--browser.gatherUsageStats=false" in cmd
    mine = streamlit_command(["--browser.gatherUsageStats=true"])
    assert "--browser.gatherUsageStats=false" not in mine
    with pytest.raises(LaunchError, match="not a Streamlit option"):
        streamlit_command(["--port", "8502"])
    env = app_environment(load_settings(home=tmp_path / "h", store="neo4j"))
    assert env["HIEROGRAPH_HOME"] == str((tmp_path / "h").resolve())
    assert env["HIEROGRAPH_STORE"] == "neo4j"


def test_cli_rejects_non_streamlit_options(tmp_path: Path):
    from typer.testing import CliRunner

    from hierograph.cli import app as cli

    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "ui", "--port", "1"])
    assert result.exit_code == 1
    assert "not a Streamlit option" in result.output
