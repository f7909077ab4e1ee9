"""The paper map's layout: a whole fit at build, new papers placed beside their neighbours
without moving the others, and the figure and offline HTML drawn from it."""

from __future__ import annotations

import re

import numpy as np
from typer.testing import CliRunner

from hierograph.cli import app
from hierograph.graph.models import Assignment, Hierarchy, Paper, Topic
from hierograph.hierarchy.layout import MapLayout, update_layout
from hierograph.ui.paper_map import load_paper_map, paper_map_figure

from .stores import open_empty_store


def clustered(n_per: int = 20, dim: int = 24, seed: int = 3) -> np.ndarray:
    """Three well-separated groups of vectors."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) * 4
    return np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centres])


def test_build_fits_and_refresh_places_beside_neighbours(tmp_path):
    store = open_empty_store("sqlite", tmp_path)
    vectors = clustered()
    papers = [Paper(id=f"p{i:03d}", title=f"P{i}", abstract="x") for i in range(len(vectors))]
    store.upsert_papers(papers)
    store.set_embeddings({p.id: v for p, v in zip(papers, vectors, strict=True)})
    layout = MapLayout(seed=1)
    assert update_layout(store, layout, refit=True).fitted == 60
    first = store.layout()
    xy = np.array([first[p.id] for p in papers])
    # Papers of one group sit closer to each other than to the other groups.
    spread = [np.linalg.norm(xy[g * 20 : g * 20 + 20].std(axis=0)) for g in range(3)]
    centres = np.array([xy[g * 20 : g * 20 + 20].mean(axis=0) for g in range(3)])
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
    assert max(spread) < min(gaps)

    # Two new papers: each a near copy of a known paper of a different group.
    new = [Paper(id="new-a", title="A", abstract="x"), Paper(id="new-b", title="B", abstract="x")]
    store.upsert_papers(new)
    store.set_embeddings({"new-a": vectors[5] + 0.01, "new-b": vectors[45] - 0.01})
    report = update_layout(store, layout, refit=False)
    assert (report.fitted, report.placed) == (0, 2)
    after = store.layout()
    assert {k: after[k] for k in first} == first, "the papers already on the map stay put"
    for pid, group in (("new-a", 0), ("new-b", 2)):
        nearest = int(np.argmin(np.linalg.norm(centres - np.array(after[pid]), axis=1)))
        assert nearest == group
    assert update_layout(store, layout, refit=False) == type(report)()  # nothing left to place
    store.close()


def test_a_new_paper_in_a_tree_is_placed_among_its_topics_papers(tmp_path):
    """With a tree, a new paper's neighbours are sought among the papers of its topics only
    (a refresh into a large map compares it with a hundred papers, not all): a paper the
    placer put in group 2's topic lands in group 2's region, even with a vector that would
    make group 0 its nearest; a paper whose topic holds too few mapped papers is compared
    with the whole map."""
    store = open_empty_store("sqlite", tmp_path)
    vectors = clustered()
    papers = [Paper(id=f"p{i:03d}", title=f"P{i}", abstract="x") for i in range(len(vectors))]
    store.upsert_papers(papers)
    store.set_embeddings({p.id: v for p, v in zip(papers, vectors, strict=True)})
    topics = [Topic(id="root", label="All", level=0)]
    topics += [Topic(id=f"g{g}", label=f"G{g}", parent="root", level=1) for g in range(3)]
    topics.append(Topic(id="tiny", label="Tiny", parent="root", level=1))
    rows = [
        Assignment(paper_id=p.id, topic_id=f"g{i // 20}", score=1.0) for i, p in enumerate(papers)
    ]
    rows += [
        Assignment(paper_id="new-a", topic_id="g2", score=1.0),
        Assignment(paper_id="new-b", topic_id="tiny", score=1.0),
    ]
    store.replace_hierarchy(Hierarchy(topics=topics, assignments=rows[:60]))
    layout = MapLayout(seed=1)
    update_layout(store, layout, refit=True)
    xy = store.layout()
    centres = np.array(
        [np.mean([xy[p.id] for p in papers[g * 20 : g * 20 + 20]], axis=0) for g in range(3)]
    )
    new = [Paper(id="new-a", title="A", abstract="x"), Paper(id="new-b", title="B", abstract="x")]
    store.upsert_papers(new)
    store.set_embeddings({"new-a": vectors[5] + 0.01, "new-b": vectors[5] - 0.01})
    store.upsert_assignments(rows[60:])
    assert update_layout(store, layout, refit=False).placed == 2
    after = store.layout()
    nearest = {
        pid: int(np.argmin(np.linalg.norm(centres - np.array(after[pid]), axis=1)))
        for pid in ("new-a", "new-b")
    }
    assert nearest == {"new-a": 2, "new-b": 0}
    store.close()


def test_a_large_map_is_fitted_on_a_sample_and_the_rest_transformed():
    """Above sample_above papers only a random sample is fitted; every paper is still laid
    out, the groups apart, and the same papers give the same map."""
    vectors = clustered(n_per=60)
    layout = MapLayout(seed=1, sample_above=90)
    xy = layout.fit(vectors)
    assert xy.shape == (180, 2) and np.isfinite(xy).all()
    assert np.array_equal(xy, MapLayout(seed=1, sample_above=90).fit(vectors))
    spread = [np.linalg.norm(xy[g * 60 : g * 60 + 60].std(axis=0)) for g in range(3)]
    centres = np.array([xy[g * 60 : g * 60 + 60].mean(axis=0) for g in range(3)])
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
    assert max(spread) < min(gaps)


def test_tiny_inputs_get_a_layout_too(tmp_path):
    assert MapLayout().fit(np.ones((1, 4))).shape == (1, 2)
    assert MapLayout().fit(clustered(2)[:5]).shape == (5, 2)


def test_built_corpus_map_figure_and_offline_html(built_corpus, built_store, tmp_path):
    coords = built_store.layout()
    assert set(coords) == {p.id for p in built_store.iter_papers()}, "the build laid out all"
    paper_map = load_paper_map(built_store)
    fig = paper_map_figure(paper_map)
    points = [t for t in fig.data if t.type == "scattergl"]
    assert sum(len(t.x) for t in points) == built_store.paper_count()
    root = built_store.root()
    top = {t.label for t in built_store.children(root.id)}
    assert {t.name for t in points} == top
    texts = {
        s.replace("<b>", "").replace("</b>", "")
        for t in fig.data
        if t.mode == "text"
        for s in t.text
    }
    assert top <= texts
    assert texts - top, "second-level labels are drawn too"
    # Hover shows the title; the click target is the paper's page.
    some = built_store.get_paper(next(iter(coords)))
    rows = {row[1]: row for t in points for row in t.customdata}
    assert rows[some.title][0] in {some.url or "", f"https://arxiv.org/abs/{some.arxiv_id}"}

    out = tmp_path / "map.html"
    result = CliRunner().invoke(app, ["--home", str(built_corpus.home), "plot", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert not re.findall(r"<script[^>]*\bsrc=", html), "no script is loaded from elsewhere"
    assert "plotly_click" in html
    assert len(html) > 3_000_000, "plotly.js is inlined, so the file opens offline"
