"""The method registry, mention detection, and linking on the supplied corpus."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hierograph.cli import app
from hierograph.graph.ids import title_key
from hierograph.graph.models import Paper
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.methods.link import MethodMatcher, link_methods, paper_links, repository_url
from hierograph.methods.registry import RegistryError, load_registry
from hierograph.settings import Settings

from .conftest import CORPUS

REGISTRY = load_registry()
METHODS = {m.id: m for m in REGISTRY.methods}
MATCHER = MethodMatcher(REGISTRY.methods)


def found(text: str) -> list[tuple[str, str]]:
    return [(m.method_id, m.text) for m in MATCHER.find(text)]


# --- registry ---


def test_registry_has_at_least_40_reviewed_methods() -> None:
    assert len(REGISTRY.methods) >= 40
    for m in REGISTRY.methods:
        assert m.description and "\n" not in m.description
    with_library = [m.id for m in REGISTRY.methods if any(i.entry for i in m.implementations)]
    assert {"dpo", "kto", "orpo", "simpo", "cpo", "grpo", "rloo", "reward-modeling"} <= set(
        with_library
    )


def test_registry_errors_name_the_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="not found"):
        load_registry(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods:\n  - id: Bad Id\n    name: X\n    description: d\n")
    with pytest.raises(RegistryError, match=r"bad.yaml is invalid: methods.0.id"):
        load_registry(bad)
    dup = tmp_path / "dup.yaml"
    dup.write_text(
        "methods:\n  - {id: a, name: A, aliases: [X], description: d}\n"
        "  - {id: b, name: B, aliases: [X], description: d}\n"
    )
    with pytest.raises(RegistryError, match="alias 'X' names both 'a' and 'b'"):
        load_registry(dup)
    lib = tmp_path / "lib.yaml"
    lib.write_text(
        "methods:\n  - id: a\n    name: A\n    description: d\n    implementations:\n"
        "      - {kind: library, library: nolib, url: 'https://x'}\n"
    )
    with pytest.raises(RegistryError, match="library 'nolib'"):
        load_registry(lib)


# --- mention detection ---


def test_acronyms_match_only_with_their_case() -> None:
    assert found("we propose PRO as an alternative") == [("pro", "PRO")]
    assert found("a pro and con analysis, a good deal of work") == []
    assert found("we DeAL with trade-offs") == [("deal", "DeAL")]
    assert found("ties between models, TIES merging") == [("ties-merging", "TIES merging")]


def test_word_boundaries_and_longest_match() -> None:
    assert found("LN-DPO extends DPO-based training") == [("ln-dpo", "LN-DPO"), ("dpo", "DPO")]
    assert found("PROMPT and DPOs") == []
    assert found("SFT+RLHF and Safe-RLHF") == [
        ("sft", "SFT"),
        ("rlhf", "RLHF"),
        ("safe-rlhf", "Safe-RLHF"),
    ]
    # Phrases: any case, hyphen or space, plural.
    assert found("Supervised Fine-Tuning and sparse autoencoders") == [
        ("sft", "Supervised Fine-Tuning"),
        ("sparse-autoencoders", "sparse autoencoders"),
    ]


def test_proposes_only_when_the_paper_introduces_the_method() -> None:
    methods = METHODS

    def relations(title: str, abstract: str) -> dict[str, str]:
        paper = Paper(id="x", title=title, abstract=abstract)
        return {x.method_id: x.relation for x in paper_links(paper, methods, MATCHER)}

    assert relations("A study", "In this paper, we propose Preference Ranking Optimization.") == {
        "pro": "PROPOSES"
    }
    assert relations("A study", "We propose a simple extension to the DPO algorithm.") == {
        "dpo": "USES"
    }
    assert relations("A study", "We then introduce I-SHEEP, an iterative paradigm.") == {
        "i-sheep": "PROPOSES"
    }
    assert relations("A study", "We propose a DPO-based method.") == {"dpo": "USES"}
    assert relations("DeAL: a framework", "It beats RLHF.") == {"deal": "PROPOSES", "rlhf": "USES"}
    # The canonical paper proposes its method even when its abstract does not say so.
    canonical = METHODS["urial"].paper_title
    assert relations(canonical, "Alignment via in-context learning.")["urial"] == "PROPOSES"


def test_repository_url_names_the_repository() -> None:
    assert (
        repository_url("https://github.com/BradyFU/Awesome-MLLM/tree/Alignment")
        == "https://github.com/BradyFU/Awesome-MLLM"
    )
    assert repository_url("https://github.com/THUDM") == "https://github.com/THUDM"
    assert (
        repository_url("https://anonymous.4open.science/r/I-SHEEP/README.md")
        == "https://anonymous.4open.science/r/I-SHEEP"
    )
    assert repository_url("https://gitlab.com/g/sub/repo/-/tree/main") == (
        "https://gitlab.com/g/sub/repo"
    )


# --- the supplied corpus (built, which runs link_methods at its end) ---

EXPECTED = {
    # paper title → (method id, relation)
    "Preference Ranking Optimization for Human Alignment": ("pro", "PROPOSES"),
    "Binary Classifier Optimization for Large Language Model Alignment": ("bco", "PROPOSES"),
    "The Unlocking Spell on Base LLMs: Rethinking Alignment via In-Context Learning": (
        "urial",
        "PROPOSES",
    ),
    "DeAL: Decoding-time Alignment for Large Language Models": ("deal", "PROPOSES"),
    "I-SHEEP: Self-Alignment of LLM from Scratch through an Iterative Self-Enhancement Paradigm": (
        "i-sheep",
        "PROPOSES",
    ),
    "Tradeoffs Between Alignment and Helpfulness in Language Models with Representation "
    "Engineering": ("representation-engineering", "USES"),
    "The Hitchhiker's Guide to Human Alignment with *PO": ("ln-dpo", "PROPOSES"),
    "LongPO: Long Context Self-Evolution of Large Language Models through Short-to-Long "
    "Preference Optimization": ("longpo", "PROPOSES"),
    "Making Large Language Models Better Reasoners with Alignment": ("pro", "USES"),
}


PROPOSED_IN_CORPUS = {
    "adpa",
    "aft",
    "bco",
    "cyclealign",
    "deal",
    "i-sheep",
    "infalign",
    "ln-dpo",
    "longpo",
    "magpie",
    "poft",
    "pro",
    "transfer-q-star",
    "urial",
}


@pytest.mark.slow
def test_corpus_papers_are_linked_to_their_methods(built_store: SqliteStore) -> None:
    by_title = {title_key(p.title): p.id for p in built_store.iter_papers()}
    for title, (method_id, relation) in EXPECTED.items():
        links = {
            x.method_id: x.relation
            for x in built_store.method_links(paper_id=by_title[title_key(title)])
        }
        assert links.get(method_id) == relation, (title, links)
    hitchhiker = by_title[title_key("The Hitchhiker's Guide to Human Alignment with *PO")]
    assert {x.method_id for x in built_store.method_links(paper_id=hitchhiker)} >= {"dpo"}
    # *PO papers: DPO is used across the corpus, proposed by none of its papers.
    dpo = built_store.method_links(method_id="dpo")
    assert len(dpo) >= 5 and {x.relation for x in dpo} == {"USES"}
    # Exactly the corpus papers that introduce a registry method propose it; no other.
    proposed = {x.method_id for x in built_store.method_links() if x.relation == "PROPOSES"}
    assert proposed == PROPOSED_IN_CORPUS


@pytest.mark.slow
def test_every_github_url_in_the_corpus_is_a_clean_repository(built_store: SqliteStore) -> None:
    raw = re.findall(r"https?://github\.com/[^\s{}]+", CORPUS.read_text(encoding="utf-8"))
    assert len(set(raw)) == 11
    repos = {r.url for r in built_store.repositories() if "github.com" in r.url}
    assert repos == {
        "https://github.com/BradyFU/Awesome-Multimodal-Large-Language-Models",
        "https://github.com/GaryYufei/AlignLLMHumanSurvey",
        "https://github.com/JHU-CLSP/science-hierarchography",
        "https://github.com/SLIT-AI/ADPA",
        "https://github.com/THUDM",
        "https://github.com/fzp0424/Ladder",
        "https://github.com/kaistAI/Janus",
        "https://github.com/kakaobrain/noc",
        "https://github.com/kangyangWHU/LLMAlignment",
        "https://github.com/rattlesnakey/CoFiTune",
        "https://github.com/yeruimeng/WTS",
    }
    # Each is linked from the paper whose abstract gave it.
    linked = {x.url for x in built_store.code_links()}
    assert repos <= linked


@pytest.mark.slow
def test_topics_are_about_their_characteristic_methods(built_store: SqliteStore) -> None:
    rows = built_store.topic_methods()
    assert rows
    topics = {t.id for t in built_store.topics()}
    assert {r.topic_id for r in rows} <= topics
    for topic_id in {r.topic_id for r in rows}:
        mine = built_store.topic_methods(topic_id=topic_id)
        assert len(mine) <= Settings().about_methods_per_topic
        papers = built_store.subtree_paper_ids(topic_id)
        for r in mine:
            users = {x.paper_id for x in built_store.method_links(method_id=r.method_id)}
            assert r.papers == len(users & papers) >= 1


@pytest.mark.slow
def test_link_is_idempotent(built_corpus: Settings, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(built_corpus.db_path().read_bytes())
    with SqliteStore(copy) as store:
        before = (store.method_links(), store.topic_methods(), store.code_links())
        report = link_methods(store, REGISTRY)
        assert (store.method_links(), store.topic_methods(), store.code_links()) == before
    assert report.proposes >= 8 and report.repositories == len({x.url for x in before[2]})


@pytest.mark.slow
def test_cli_code_preference_optimization(built_corpus: Settings) -> None:
    # Wide enough that no line wraps.
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        app, ["--home", str(built_corpus.home), "code", "preference optimization"]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    print(out)
    for name in ("Direct Preference Optimization", "Preference Ranking Optimization"):
        assert name in out
    assert "https://github.com/eric-mitchell/direct-preference-optimization" in out
    assert "trl.DPOTrainer" in out
    # methods → papers → implementations, the official repo before the library entry point.
    dpo = out.index("Direct Preference Optimization")
    assert out.index("papers", dpo) < out.index("implementations", dpo)
    assert out.index("eric-mitchell", dpo) < out.index("trl.DPOTrainer", dpo)
    # PRO: the corpus paper proposes it.
    assert "PROPOSES Preference Ranking Optimization for Human Alignment" in out

    unknown = CliRunner().invoke(app, ["--home", str(built_corpus.home), "code", "zzz qqq"])
    assert unknown.exit_code == 1 and "hierograph methods" in unknown.output


def test_cli_link_on_an_ingested_store(tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(tmp_path / "home")
    assert runner.invoke(app, ["--home", home, "ingest", str(CORPUS)]).exit_code == 0
    result = runner.invoke(app, ["--home", home, "link"])
    assert result.exit_code == 0, result.output
    assert f"{len(REGISTRY.methods)} methods" in result.output
    code = runner.invoke(app, ["--home", home, "code", "BCO"])
    assert code.exit_code == 0, code.output
    assert "PROPOSES Binary Classifier Optimization" in code.output
    assert "loss_type='bco_pair'" in code.output
