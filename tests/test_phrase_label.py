"""Phrase labels without an LLM: candidates (noun phrases, merged inflections, no markup) and
names (phrases, not keyword lists; generic words never alone; distinct siblings; parents from
what their children share; extractive summaries). Real spaCy model, real embedding model."""

from __future__ import annotations

import numpy as np
import pytest

from hierograph.graph.models import Paper
from hierograph.hierarchy.phrase_label import PhraseLabeler
from hierograph.hierarchy.phrases import PhraseExtractor, strip_markup
from hierograph.hierarchy.tree import Node
from hierograph.jobs.components import make_embedder
from hierograph.settings import Settings

JAILBREAK = [
    ("Jailbreak Attacks on Aligned Language Models", "We study jailbreak attacks on models."),
    ("Universal Jailbreaks via Suffix Search", "Jailbreaks bypass the refusal of models."),
    ("Jailbreaking Chatbots with Role-Play", "Jailbreaking through role-play prompts works."),
    ("Defending LLM Safety Against Jailbreak Attacks", "A defence against jailbreak attacks."),
]
DNA = [
    ("DNA Sequence Alignment with Transformers", "DNA sequence alignment maps reads to genomes."),
    ("Fast DNA Sequence Alignment on GPUs", "We speed up DNA sequence alignment of reads."),
    ("Learning to Align DNA Sequences", "Neural DNA sequence alignment of long reads."),
    ("Embedding Methods for DNA Sequence Alignment", "DNA sequence alignment by embeddings."),
]
REWARD = [
    ("Scaling Laws for Reward Model Overoptimization", "Reward model overoptimization hurts."),
    ("Reward Model Overoptimization and LLM Safety", "We measure reward model overoptimization."),
    ("Mitigating Reward Model Overoptimization", "Ensembles reduce reward model overoptimization."),
    ("Reward Hacking and Reward Model Overoptimization", "Reward model overoptimization again."),
]


@pytest.fixture(scope="module")
def embed(tmp_path_factory):
    return make_embedder(Settings(home=tmp_path_factory.mktemp("phr")), False).encode


def _papers(groups):
    """Papers of the groups; the jailbreak and reward groups also talk about LLM safety."""
    rows = [
        (t, a + (" It matters for LLM safety." if group is not DNA else ""))
        for group in groups
        for t, a in group
    ]
    return [Paper(id=f"p{i}", title=t, abstract=a) for i, (t, a) in enumerate(rows)]


def test_markup_and_latex_are_stripped():
    text = r"\emph{Reflection} and $\alpha$-repair, see [the code](https://x.org) <b>now</b>"
    clean = strip_markup(text)
    assert "emph" not in clean and "\\" not in clean and "$" not in clean
    assert "Reflection" in clean and "the code" in clean and "https" not in clean


def test_inflections_count_as_one_phrase():
    papers = _papers([JAILBREAK, DNA])
    counts = PhraseExtractor(min_papers=1).fit(
        [p.title for p in papers], [p.abstract for p in papers]
    )
    jail = [k for k in counts.keys if k.split()[0].startswith("jailbreak")]
    assert "jailbreak" in counts.keys
    assert not {"jailbreaks", "jailbreaking"} & set(counts.keys), "inflections are merged"
    column = counts.keys.index("jailbreak")
    assert counts.in_text[:, column].sum() == len(JAILBREAK), "every form counts for the key"
    assert "jailbreak attack" in jail
    display = counts.display[counts.keys.index("jailbreak attack")]
    assert display == "jailbreak attacks", "written as authors write it, not as a lemma"


def test_tags_kept_between_builds_give_the_same_phrases(tmp_path, monkeypatch):
    """A build with the tag cache counts the same phrases as one without; a second build
    tags nothing, and a new title is tagged alone."""
    from hierograph.hierarchy import phrases

    papers = _papers([JAILBREAK, DNA, REWARD])
    titles, abstracts = [p.title for p in papers], [p.abstract for p in papers]
    plain = PhraseExtractor(min_papers=1).fit(titles, abstracts)
    cache = tmp_path / "tags.sqlite"
    cold = PhraseExtractor(min_papers=1, tag_cache=cache).fit(titles, abstracts)
    tagged: list[str] = []
    real = phrases._nlp()

    class Counting:
        def pipe(self, texts, batch_size):  # noqa: ANN001, ANN202 - spaCy's signature
            texts = list(texts)
            tagged.extend(texts)
            return real.pipe(texts, batch_size=batch_size)

    monkeypatch.setattr(phrases, "_nlp", lambda: Counting())
    warm = PhraseExtractor(min_papers=1, tag_cache=cache).fit(titles, abstracts)
    assert tagged == []
    for counts in (cold, warm):
        assert (counts.keys, counts.display) == (plain.keys, plain.display)
        assert (counts.in_text != plain.in_text).nnz == 0
        assert (counts.in_title != plain.in_title).nnz == 0
    PhraseExtractor(min_papers=1, tag_cache=cache).fit(
        [*titles, "Reward Hacking in Agents"], [*abstracts, "x"]
    )
    assert tagged == [phrases._soften_case("Reward Hacking in Agents")]


def test_topics_are_named_by_distinct_phrases_and_parents_by_what_children_share(embed):
    papers = _papers([JAILBREAK, DNA, REWARD])
    X = embed([p.text() for p in papers])
    leaves = [Node(members=list(range(i, i + 4))) for i in (0, 4, 8)]
    safety = Node(members=[*range(0, 4), *range(8, 12)], children=[leaves[0], leaves[2]])
    root = Node(members=list(range(12)), children=[safety, leaves[1]])
    labels = PhraseLabeler(embed).fit(papers, X).label_tree(root)
    names = {id(n): labels[id(n)].label for n in (safety, *leaves)}
    assert names[id(leaves[0])].lower().startswith("jailbreak")
    assert names[id(leaves[1])].lower() == "dna sequence alignment"
    assert names[id(leaves[2])].lower() == "reward model overoptimization"
    for name in names.values():
        assert 1 <= len(name.split()) <= 4 and "," not in name and name[0].isupper()
    assert len(set(names.values())) == len(names)
    assert names[id(safety)] == "LLM safety", "the parent is named by what its children share"
    summary = labels[id(leaves[1])].summary
    assert summary.startswith("Includes: “") and summary.count("“") == 2
    assert "papers about" not in summary
    assert len(labels[id(leaves[1])].keywords) >= 2


def test_a_name_the_tree_has_is_avoided_unless_nothing_else_is_left(embed):
    """Cousins (topics under different parents) would both be "Jailbreak attacks": the one
    named second takes its next phrase; where it has none, it repeats the cousin's name
    rather than fall back to "Other papers". Siblings never share a name."""
    papers = _papers([JAILBREAK, DNA, REWARD])
    labeler = PhraseLabeler(embed).fit(papers, embed([p.text() for p in papers]))
    keys = labeler.counts_.keys
    jail, search = keys.index("jailbreak attack"), keys.index("suffix search")
    leaf = [Node(members=[0, 1, 2, 3])]

    def named(ranked: list[int], elsewhere: set[str]) -> str:
        scored = [[(k, 1.0 - r / 10) for r, k in enumerate(ranked)]]
        [(label, _)] = labeler._assign(leaf, scored, [set()], elsewhere)
        return label.label

    assert named([jail, search], set()) == "Jailbreak attacks"
    assert named([jail, search], {"jailbreak attacks"}) == "Suffix search"
    assert named([jail], {"jailbreak attacks"}) == "Jailbreak attacks"
    two = labeler._assign(leaf * 2, [[(jail, 1.0)], [(jail, 1.0)]], [set(), set()], set())
    assert two[0][0].label != two[1][0].label


def test_a_word_the_whole_collection_uses_is_never_a_name_alone(embed):
    generic = [
        (f"Alignment study {i}", f"Alignment of models, alignment results, topic {i}.")
        for i in range(8)
    ]
    papers = _papers([generic, JAILBREAK, DNA])
    X = np.asarray(embed([p.text() for p in papers]))
    root = Node(
        members=list(range(16)),
        children=[Node(members=list(range(8))), Node(members=list(range(8, 16)))],
    )
    labels = PhraseLabeler(embed).fit(papers, X).label_tree(root)
    for child in root.children:
        assert labels[id(child)].label.lower() not in {"alignment", "results", "models"}


def test_a_pronoun_is_never_a_name(embed):
    nothing = [
        ("Prompting Aligned Chatbots with Nothing", "Instruction data made from nothing."),
        ("Learning to Plan from Nothing", "Planners learned from nothing but a simulator."),
        ("Reward Data from Nothing", "Preference pairs from nothing: no human labels."),
        ("Self-Improvement with Nothing", "Models improve themselves with nothing added."),
    ]
    papers = _papers([nothing, DNA])
    X = np.asarray(embed([p.text() for p in papers]))
    root = Node(
        members=list(range(8)),
        children=[Node(members=list(range(4))), Node(members=list(range(4, 8)))],
    )
    labels = PhraseLabeler(embed).fit(papers, X).label_tree(root)
    assert labels[id(root.children[0])].label.lower() != "nothing"


MESA = [
    ("Risks from Mesa Optimization", "Mesa optimization arises when a learned model optimizes."),
    ("Deceptive Mesa Optimizers", "A mesa optimizer may deceive; mesa optimization is risky."),
    ("Detecting Mesa Optimization in Networks", "We look for mesa optimization in trained nets."),
    ("Mesa Objectives and Inner Alignment", "Mesa optimization gives a mesa objective."),
]


@pytest.mark.parametrize("expand_share, expect_term", [(0.5, True), (0.0, False)])
def test_a_single_word_gives_way_to_the_term_most_of_its_uses_belong_to(
    embed, expand_share, expect_term
):
    papers = _papers([MESA, DNA])
    X = np.asarray(embed([p.text() for p in papers]))
    root = Node(
        members=list(range(8)),
        children=[Node(members=list(range(4))), Node(members=list(range(4, 8)))],
    )
    labeler = PhraseLabeler(embed, expand_share=expand_share).fit(papers, X)
    name = labeler.label_tree(root)[id(root.children[0])].label.lower()
    assert ("mesa" in name) and ((len(name.split()) > 1) == expect_term), name
