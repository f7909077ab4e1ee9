"""Contract for the method/code part of the store: both backends, the same answers."""

from __future__ import annotations

import pytest

from hierograph.graph.method_models import (
    CodeLink,
    Implementation,
    Method,
    MethodLink,
    Repository,
    TopicMethod,
)
from hierograph.graph.models import Assignment, Hierarchy, Paper, Topic
from hierograph.graph.store import GraphStore

from .stores import BACKENDS, open_empty_store

TRL = "https://github.com/huggingface/trl"


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> GraphStore:
    s = open_empty_store(request.param, tmp_path / request.param)
    yield s
    s.close()


def method_set() -> list[Method]:
    shared = Implementation(kind="library", library="openrlhf", url="https://x/openrlhf")
    return [
        Method(
            id="dpo",
            name="Direct Preference Optimization",
            aliases=["DPO"],
            description="d",
            arxiv_id="2305.18290",
            paper_title="Direct Preference Optimization",
            implementations=[
                Implementation(kind="repo", url="https://github.com/e/dpo", official=True),
                Implementation(
                    kind="library", library="trl", url=TRL, entry="trl.DPOTrainer", since="0.5.0"
                ),
                shared,
            ],
        ),
        Method(
            id="ipo",
            name="Identity Preference Optimization",
            aliases=["IPO"],
            description="i",
            implementations=[
                Implementation(
                    kind="library",
                    library="trl",
                    url=TRL,
                    entry="trl.DPOTrainer",
                    options={"loss_type": "ipo"},
                    recipe="pairwise",
                ),
                shared,
            ],
        ),
        Method(id="urial", name="URIAL", description="u"),
    ]


def seed(store: GraphStore) -> None:
    store.upsert_papers(
        [
            Paper(id=f"p{i}", title=f"Paper {i}", abstract="a", code_urls=[f"https://g/{i}"])
            for i in range(4)
        ]
    )
    topics = [
        Topic(id="root", label="All", level=0),
        Topic(id="t1", label="Preference optimization", parent="root", level=1),
    ]
    store.replace_hierarchy(
        Hierarchy(
            topics=topics,
            assignments=[Assignment(paper_id=f"p{i}", topic_id="t1", score=1.0) for i in range(4)],
        )
    )
    store.replace_methods(method_set())


def test_methods_round_trip_with_implementations_in_order(store: GraphStore) -> None:
    seed(store)
    got = store.methods()
    assert [m.id for m in got] == ["dpo", "ipo", "urial"]
    assert got == sorted(method_set(), key=lambda m: m.id)
    # The same entry point with other options is another implementation.
    assert got[0].implementations[1].id != got[1].implementations[0].id


def test_replace_methods_drops_removed_methods_and_their_links(store: GraphStore) -> None:
    seed(store)
    store.replace_method_links(
        [
            MethodLink(paper_id="p0", method_id="urial", relation="PROPOSES", evidence="e"),
            MethodLink(paper_id="p1", method_id="dpo", relation="USES"),
        ]
    )
    store.replace_topic_methods([TopicMethod(topic_id="t1", method_id="urial", score=1, papers=1)])
    kept = [m for m in method_set() if m.id != "urial"]
    kept[0] = kept[0].model_copy(update={"implementations": kept[0].implementations[:1]})
    store.replace_methods(kept)
    assert [m.id for m in store.methods()] == ["dpo", "ipo"]
    assert len(store.methods()[0].implementations) == 1
    assert [x.method_id for x in store.method_links()] == ["dpo"]
    assert store.topic_methods() == []
    store.replace_methods(kept)  # idempotent
    assert [m.id for m in store.methods()] == ["dpo", "ipo"]


def test_method_links_replace_filter_and_order(store: GraphStore) -> None:
    seed(store)
    links = [
        MethodLink(paper_id="p2", method_id="dpo", relation="USES", evidence="abstract: DPO"),
        MethodLink(paper_id="p3", method_id="dpo", relation="PROPOSES", evidence="canonical"),
        MethodLink(paper_id="p1", method_id="ipo", relation="USES", evidence="abstract: IPO"),
        MethodLink(paper_id="nope", method_id="dpo", relation="USES"),
        MethodLink(paper_id="p1", method_id="nope", relation="USES"),
    ]
    store.replace_method_links(links)
    got = store.method_links()
    assert [(x.paper_id, x.method_id, x.relation) for x in got] == [
        ("p3", "dpo", "PROPOSES"),
        ("p2", "dpo", "USES"),
        ("p1", "ipo", "USES"),
    ]
    assert got[0].evidence == "canonical"
    assert store.method_links(paper_id="p1") == [got[2]]
    assert store.method_links(method_id="dpo") == got[:2]
    store.replace_method_links(links[:1])
    assert store.method_links() == [links[0]]


def test_topic_methods_replace_and_order(store: GraphStore) -> None:
    seed(store)
    rows = [
        TopicMethod(topic_id="t1", method_id="ipo", score=0.5, papers=1),
        TopicMethod(topic_id="t1", method_id="dpo", score=2.0, papers=3),
        TopicMethod(topic_id="root", method_id="dpo", score=1.0, papers=3),
        TopicMethod(topic_id="gone", method_id="dpo", score=1.0, papers=3),
    ]
    store.replace_topic_methods(rows)
    assert store.topic_methods() == [rows[2], rows[1], rows[0]]
    assert store.topic_methods(method_id="ipo") == [rows[0]]
    store.replace_topic_methods([])
    assert store.topic_methods() == []


def test_code_links_create_repositories_that_keep_their_status(store: GraphStore) -> None:
    seed(store)
    links = [CodeLink(paper_id="p0", url="https://g/0"), CodeLink(paper_id="p1", url="https://g/0")]
    store.replace_code_links([*links, CodeLink(paper_id="nope", url="https://g/x")])
    assert store.code_links() == links
    assert store.code_links(paper_id="p1") == [links[1]]
    assert [r.url for r in store.repositories()] == ["https://g/0"]
    checked = Repository(url="https://g/0", status=404, ok=False, checked_at="2025-01-01T00:00:00")
    store.record_link_checks([checked, Repository(url="https://y/z", status=200, ok=True)])
    store.replace_code_links(links)  # a re-link keeps what the last check found
    assert store.repositories()[0] == checked
    assert store.repositories()[1].ok is True
    store.replace_code_links([])
    assert store.code_links() == []


def test_code_for_ranks_official_then_library_then_other_repos(store: GraphStore) -> None:
    seed(store)
    store.replace_method_links(
        [
            MethodLink(paper_id="p0", method_id="dpo", relation="PROPOSES"),
            MethodLink(paper_id="p1", method_id="dpo", relation="USES"),
        ]
    )
    store.replace_code_links(
        [CodeLink(paper_id="p0", url="https://g/0"), CodeLink(paper_id="p1", url="https://g/1")]
    )
    store.record_link_checks([Repository(url="https://github.com/e/dpo", status=404, ok=False)])
    answer = store.code_for("DPO")
    assert answer.matched == "method"
    [dpo] = answer.methods
    assert [(p.paper_id, p.relation) for p in dpo.papers] == [("p0", "PROPOSES"), ("p1", "USES")]
    ranked = [(i.rank, i.url, i.source) for i in dpo.implementations]
    assert ranked == [
        ("official", "https://g/0", "p0"),  # the proposing paper's code; the dead one sinks
        ("official", "https://github.com/e/dpo", "registry"),
        ("library", TRL, "registry"),
        ("library", "https://x/openrlhf", "registry"),
        ("repo", "https://g/1", "p1"),
    ]
    assert dpo.implementations[1].ok is False


def test_code_for_topic_and_phrase(store: GraphStore) -> None:
    seed(store)
    store.replace_topic_methods([TopicMethod(topic_id="t1", method_id="ipo", score=1, papers=1)])
    by_label = store.code_for("preference optimization")
    assert by_label.matched == "topic" and by_label.topics == ["t1"]
    # The topic's methods first, then the methods named for the concept that it does not hold:
    # a topic with the concept's name does not hide "Direct Preference Optimization".
    assert [m.method.id for m in by_label.methods] == ["ipo", "dpo"]
    phrase = store.code_for("preference")
    assert phrase.matched == "search"
    assert {m.method.id for m in phrase.methods} == {"dpo", "ipo"}
    assert store.code_for("nothing like this").matched == "none"
