"""Stages that read papers' text take them as a stream (issue 20): the phrase labeler and the
facet classifier read a one-pass iterator, and give what they give for a list; a build reads
the store's papers chunk by chunk (graph.paper_source), never all at once. Real SQLite store,
real embedding and spaCy models."""

from __future__ import annotations

import pytest

from hierograph.graph.models import Paper
from hierograph.graph.paper_source import StoredPapers
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.hierarchy.facets import EmbeddingFacetClassifier
from hierograph.hierarchy.phrase_label import PhraseLabeler
from hierograph.hierarchy.tree import Node
from hierograph.jobs.build import build_hierarchy
from hierograph.jobs.components import make_embedder
from hierograph.settings import Settings

ROWS = [
    ("Jailbreak Attacks on Aligned Language Models", "We study jailbreak attacks on models."),
    ("Universal Jailbreaks via Suffix Search", "Jailbreaks bypass the refusal of models."),
    ("Defending LLM Safety Against Jailbreak Attacks", "A defence against jailbreak attacks."),
    ("DNA Sequence Alignment with Transformers", "DNA sequence alignment maps reads to genomes."),
    ("Fast DNA Sequence Alignment on GPUs", "We speed up DNA sequence alignment of reads."),
    ("Learning to Align DNA Sequences", "Neural DNA sequence alignment of long reads."),
    ("Speech recognition with CTC", "We propose an ASR model for spoken audio."),
    ("A Survey of Reward Hacking", "We survey reward hacking in image generators."),
]


@pytest.fixture(scope="module")
def embed(tmp_path_factory):
    return make_embedder(Settings(home=tmp_path_factory.mktemp("stream")), False).encode


@pytest.fixture
def stored(tmp_path):
    papers = [Paper(id=f"p{i}", title=t, abstract=a) for i, (t, a) in enumerate(ROWS)]
    with SqliteStore(tmp_path / "s.sqlite") as store:
        store.upsert_papers(papers)
        yield store, papers


def test_labels_from_a_one_pass_stream_are_the_labels_from_a_list(embed, stored):
    store, papers = stored
    X = embed([p.text() for p in papers])
    root = Node(
        members=list(range(8)),
        children=[Node(members=[0, 1, 2]), Node(members=[3, 4, 5]), Node(members=[6, 7])],
    )
    from_list = PhraseLabeler(embed).fit(papers, X).label_tree(root)
    from_stream = PhraseLabeler(embed).fit(iter(StoredPapers(store, chunk=3)), X).label_tree(root)
    assert from_stream == from_list
    assert from_list[id(root.children[1])].label.lower() == "dna sequence alignment"


def test_facets_from_a_one_pass_stream_are_the_facets_from_a_list(embed, stored):
    store, papers = stored
    X = embed([p.text() for p in papers])
    classifier = EmbeddingFacetClassifier(embed).fit()
    from_list = classifier.predict(papers, X)
    assert classifier.predict(iter(StoredPapers(store, chunk=3)), X) == from_list
    assert ("p6", "modality", "speech") in {(f.paper_id, f.dimension, f.value) for f in from_list}
    with pytest.raises(ValueError):
        classifier.predict(papers[:-1], X)


def test_a_build_reads_papers_in_chunks_never_all_at_once(stored, tmp_path, monkeypatch):
    """Every read of papers during a build goes through get_papers, one chunk at a time (the
    build used to hold `list(store.iter_papers())`)."""
    store, papers = stored
    monkeypatch.setattr(StoredPapers.__init__, "__defaults__", (None, 3))
    asked: list[int] = []
    real = store.get_papers

    def get_papers(ids):
        asked.append(len(ids))
        return real(ids)

    monkeypatch.setattr(store, "get_papers", get_papers)
    monkeypatch.setattr(store, "iter_papers", lambda: pytest.fail("whole-store read"))
    settings = Settings(home=tmp_path, map_layout=False)
    report = build_hierarchy(store, settings, show_progress=False)
    assert report.papers == len(papers) and asked and max(asked) <= 3
