"""Facets from the zero-shot classifier (default) and from the LLM (mocked through litellm)."""

import json

import numpy as np

from hierograph.graph.models import Paper
from hierograph.hierarchy.facets import (
    PROTOTYPES,
    EmbeddingFacetClassifier,
    facet_counts,
)
from hierograph.jobs.components import make_embedder
from hierograph.llm.client import LlmClient
from hierograph.llm.facets import LlmFacetExtractor
from hierograph.settings import Settings


def test_at_most_one_value_per_closed_dimension_and_unsure_papers_get_none(built_store):
    ids = {p.id for p in built_store.iter_papers()}
    for dimension, values in PROTOTYPES.items():
        facets = built_store.facets(dimension=dimension)
        tagged = [f.paper_id for f in facets]
        assert len(tagged) == len(set(tagged)) and set(tagged) <= ids
        assert {f.value for f in facets} <= set(values)
    titles = {p.id: p.title for p in built_store.iter_papers()}
    surveys = [
        f
        for f in built_store.facets(dimension="contribution")
        if "survey" in titles[f.paper_id].lower()
    ]
    assert surveys and all(f.value == "survey" for f in surveys)
    modality = {titles[f.paper_id]: f.value for f in built_store.facets(dimension="modality")}
    assert modality["Aligning Multimodal LLM with Human Preference: A Survey"] == "vision-language"
    counts = facet_counts(built_store.facets(), ids, "modality")
    assert sum(n for _, n in counts) <= len(ids) and counts[0][0] == "text"


def test_speech_is_only_the_speech_paper(built_store):
    """Issue 15: DeAL, BCO, InfAlign and Transfer Q* were tagged "speech"; only the CTC paper
    (automatic speech recognition) is, and "Part-of-Speech tags" in a summarization abstract
    is no speech."""
    titles = {p.id: p.title for p in built_store.iter_papers()}
    facets = built_store.facets(dimension="modality")
    speech = [titles[f.paper_id] for f in facets if f.value == "speech"]
    assert speech == [
        "Align With Purpose: Optimize Desired Properties in CTC Models with a General "
        "Plug-and-Play Framework"
    ]


def test_weak_evidence_gives_no_value(tmp_path):
    """A text that says nothing about its data or its contribution gets no facet: unknown is
    not a guess."""
    embed = make_embedder(Settings(home=tmp_path), False).encode
    classifier = EmbeddingFacetClassifier(embed).fit()
    papers = [
        Paper(id=f"p{i}", title=t, abstract=a)
        for i, (t, a) in enumerate(
            [
                ("Notes", "Some remarks."),
                ("Speech recognition with CTC", "We propose an ASR model for spoken audio."),
            ]
        )
    ]
    facets = classifier.predict(papers, embed([p.text() for p in papers]))
    got = {(f.paper_id, f.dimension): f.value for f in facets}
    assert ("p0", "modality") not in got and ("p0", "contribution") not in got
    assert got[("p1", "modality")] == "speech" and got[("p1", "contribution")] == "method"


def test_llm_facets_validated_with_fallback(built_corpus, built_store, tmp_path):
    papers = list(built_store.iter_papers())[:6]
    vectors = built_store.get_embeddings([p.id for p in papers])
    X = np.stack([vectors[p.id] for p in papers])

    def answer(messages):
        if papers[0].title in messages[1]["content"]:
            return json.dumps(
                {"contribution": "a poem", "modality": "text", "problem": "x", "technique": "y"}
            )
        return json.dumps(
            {
                "contribution": "method",
                "modality": "text",
                "problem": "Aligning models with preferences",
                "technique": "Preference optimization",
            }
        )

    client = LlmClient("openai/gpt-4o-mini", cache_path=tmp_path / "c.sqlite", mock=answer)
    zero_shot = EmbeddingFacetClassifier(make_embedder(built_corpus, False).encode).fit()
    facets = LlmFacetExtractor(client, zero_shot).predict(papers, X)
    first = [f for f in facets if f.paper_id == papers[0].id]
    assert {f.origin for f in first} <= {"embedding", "rule"}, "invalid answers fall back"
    assert {f.dimension for f in first} == {"contribution", "modality"}
    second = {f.dimension: f for f in facets if f.paper_id == papers[1].id}
    assert second["technique"].value == "preference optimization"
    assert second["contribution"].origin == "llm" and len(second) == 4
    assert client.usage.calls == len(papers) + 1, "one re-ask for the invalid answer"


def test_a_build_makes_one_llm_client_and_reports_the_facets_calls(
    built_corpus, embedding_cache, tmp_path, monkeypatch
):
    """Facets, paper summaries and topic names share the build's one client, so the report's
    LLM line counts every call, the facets' included."""
    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.jobs import components
    from hierograph.jobs.build import build_hierarchy
    from hierograph.llm.facets import FACET_PROMPT

    from .conftest import seeded_home
    from .test_paper_summaries import honest_summary, is_summary_prompt, topic_answer

    asked: list[str] = []

    def answer(messages) -> str:
        if messages[0]["content"] == FACET_PROMPT:
            asked.append("facets")
            return json.dumps(
                {
                    "contribution": "method",
                    "modality": "text",
                    "problem": "Aligning models with preferences",
                    "technique": "Preference optimization",
                }
            )
        if is_summary_prompt(messages):
            asked.append("summary")
            return honest_summary(messages)
        asked.append("label")
        return topic_answer(messages)

    made: list[LlmClient] = []

    def mocked_client(settings):
        made.append(LlmClient(settings.llm, cache_path=settings.llm_cache_path(), mock=answer))
        return made[-1]

    monkeypatch.setattr(components, "client_from_settings", mocked_client)
    settings = seeded_home(tmp_path / "home", embedding_cache).model_copy(
        update={"llm": "openai/gpt-4o-mini", "llm_facets": True, "llm_paper_summaries": True}
    )
    with SqliteStore(built_corpus.db_path()) as source, SqliteStore(settings.db_path()) as store:
        store.upsert_papers(list(source.iter_papers()))
        report = build_hierarchy(store, settings, show_progress=False)
        llm_facets = [f for f in store.facets(dimension="technique") if f.origin == "llm"]
    papers = 49
    assert len(made) == 1, "one LLM client per build"
    assert asked.count("facets") == papers and asked.count("summary") == papers
    assert len(llm_facets) == papers
    assert asked.count("label") > 0
    assert f"LLM: {len(asked)} calls" in report.llm, report.llm


def test_modality_cues_read_acronyms_and_vlm_terms_in_context():
    """Found on the arXiv benchmark: "ASR" in jailbreak papers is the attack success rate and
    "TTS" in reasoning papers test-time scaling, not speech; text-to-image generation makes
    images (vision); a vision paper that names a VLM once in passing stays vision, a paper
    about VLMs is vision-language."""
    from hierograph.hierarchy.facet_cues import cue_scores, decide_modality

    def modality(title: str, abstract: str) -> str | None:
        decided = decide_modality(cue_scores("modality", title, abstract))
        return decided[0] if decided else None

    jailbreak = (
        "Realistic adversarial testing of computer-use agents",
        "Agents remain vulnerable to prompt injection. Claude shows an ASR of 42.9%, Operator "
        "an ASR of 7.6%; we observe ASRs of up to 50% across language model agents and LLMs.",
    )
    assert modality(*jailbreak) == "text"
    scaling = (
        "A survey on verification for test-time scaling",
        "Test-time scaling (TTS) of large language models: TTS spends compute on reasoning.",
    )
    assert modality(*scaling) == "text"
    asr = ("Low-resource ASR", "We fine-tune ASR models on recordings of spoken dialogue.")
    assert modality(*asr) == "speech"
    t2i = (
        "Erasing concepts from text-to-image models",
        "Text-to-image diffusion models generate unsafe images from prompts; we edit the image "
        "generation model so that it forgets concepts while keeping image quality.",
    )
    assert modality(*t2i) == "vision"
    in_passing = (
        "Super-resolution of satellite images",
        "We upscale images and video frames; a VLM writes prompts for the upscaler, which "
        "renders sharper images than convolutional baselines on three image benchmarks.",
    )
    assert modality(*in_passing) == "vision"
    about_vlms = (
        "Jailbreaking vision-language models through the visual modality",
        "We attack VLMs with images that encode harmful instructions.",
    )
    assert modality(*about_vlms) == "vision-language"


def test_a_paper_on_sound_and_images_together_gets_no_single_modality(tmp_path):
    """Multi-modality: an audio-visual paper is neither speech nor vision; the facet holds one
    value, so it is unknown, and the classifier stores none (a paper on speech that shows a
    spectrogram image stays speech)."""
    from hierograph.hierarchy.facet_cues import cue_scores, decide_modality

    audio_visual = (
        "Audio-visual intelligence in large foundation models",
        "We review audio-visual models that hear speech and see video frames: audio-visual "
        "speech recognition, talking-face video generation and sound source localization.",
    )
    assert decide_modality(cue_scores("modality", *audio_visual))[0] == "several"  # type: ignore[index]
    embed = make_embedder(Settings(home=tmp_path), False).encode
    paper = Paper(id="av", title=audio_visual[0], abstract=audio_visual[1])
    facets = EmbeddingFacetClassifier(embed).fit().predict([paper], embed([paper.text()]))
    assert [f.dimension for f in facets if f.dimension == "modality"] == []
    speech = (
        "Streaming speech recognition",
        "An ASR model for spoken audio; its spectrogram image is shown in a figure.",
    )
    assert decide_modality(cue_scores("modality", *speech))[0] == "speech"  # type: ignore[index]


def test_undecided_papers_take_the_value_their_cue_decided_neighbours_agree_on():
    """An undecided paper inside a group of papers the cues called "text" is text; one between
    a text group and a vision group stays unknown; a paper the cues found to be on several
    modalities gets none and casts no vote; too few decided papers, and no one votes."""
    from hierograph.graph.models import Facet
    from hierograph.hierarchy.facets import MIN_NEIGHBOUR_PAPERS, neighbour_votes

    rng = np.random.default_rng(0)
    text_axis, vision_axis = np.eye(8)[0], np.eye(8)[1]
    n = MIN_NEIGHBOUR_PAPERS
    vectors = [text_axis + 0.05 * rng.standard_normal(8) for _ in range(n)]
    vectors += [vision_axis + 0.05 * rng.standard_normal(8) for _ in range(n)]
    vectors += [text_axis + 0.1 * vision_axis, text_axis + vision_axis, text_axis]
    X = np.stack(vectors) / np.linalg.norm(vectors, axis=1, keepdims=True)
    paper_ids = [f"p{i}" for i in range(len(X))]

    def rule(i: int, value: str) -> Facet:
        return Facet(paper_id=f"p{i}", dimension="modality", value=value, score=0.9, origin="rule")

    decided = [rule(i, "text") for i in range(n)] + [rule(n + i, "vision") for i in range(n)]
    decided += [None, None, rule(2 * n + 2, "several")]
    values = ["text", "vision", "vision-language", "speech", "other"]
    out = neighbour_votes(paper_ids, X, decided, "modality", values)
    near_text, between, several = out[-3:]
    assert near_text is not None and near_text.value == "text"
    assert near_text.origin == "embedding" and near_text.score >= 0.8
    assert between is None and several is decided[-1]
    few = decided[: n // 2] + [None] * (len(X) - n // 2)
    assert neighbour_votes(paper_ids, X, few, "modality", values) == few
