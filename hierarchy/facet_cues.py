"""Cue rules for the closed facets: words in a paper's title and abstract that say what it works
on (modality) and what kind of contribution it makes. MiniLM embeddings capture a paper's
subject far better than its genre or its data type, so explicit cues decide first and the
embedding classifier (facets.py) only breaks weak or tied cues.

Each rule is (value, pattern, weight); a value's score is the sum of its rules' weights over
the matches (title matches count `TITLE_WEIGHT` times). Scores are evidence, not
probabilities: `facets.py` turns them into a value, or into no value when they are weak."""

from __future__ import annotations

import re

from hierograph.hierarchy.needles import may_match, needles

TITLE_WEIGHT = 3.0
# (value, pattern, weight, where): where is "both", or "title" for cues that only a title
# makes meaningful (a question title is a study; "is" in an abstract says nothing).
Rule = tuple[str, re.Pattern[str], float] | tuple[str, re.Pattern[str], float, str]


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# "Speech" only when it means spoken audio: hate speech and part-of-speech tags are text.
# The word first, then what may not precede it (tested from the word's end): a pattern that
# starts with its word is scanned for that word, not tried with 15 look-behinds everywhere.
_NOT_BEFORE_SPEECH = (
    "hate ", "free ", "part-of-", "part of ", "figures of ", "figure of ", "toxic ", "uncivil ",
    "intolerant ", "offensive ", "harmful ", "hateful ", "freedom of ", "reported ", "direct ",
)  # fmt: skip
_SPEECH = r"\bspeech\b" + "".join(f"(?<!{p}speech)" for p in _NOT_BEFORE_SPEECH) + r"(?! acts?\b)"

MODALITY_RULES: list[Rule] = [
    ("speech", _rx(_SPEECH), 2.0),
    (
        "speech",
        _rx(
            r"\b(spoken|audio|acoustic|text-to-speech|voice|music\w*|waveform"
            r"|phonem\w+|speaker (?:verification|recognition|diarization))\b"
        ),
        2.0,
    ),
    # Upper case only, and not where the paper spells out another meaning (AMBIGUOUS).
    ("speech", re.compile(r"\b(ASR|TTS)\b"), 2.0),
    (
        "vision-language",
        _rx(
            # "vision-language-action" is matched by "vision[- ]language" (its prefix).
            r"\b(vision[- ]language|l?vlms?|mllms?|lmms?"
            r"|multi-?modal (?:large language |reasoning )?models?|visual question answering"
            r"|vqa|image caption\w*|captioning|visual instruction|vlas?|image-text|video-?llms?"
            r"|visual grounding|vision and language|language and vision|memes?)\b"
        ),
        2.0,
    ),
    # Text-conditioned image and video generation makes images: vision, whatever its prompt.
    (
        "vision",
        _rx(
            r"\b(text-to-image|text-to-video|t2i|t2v|image generation|video generation"
            r"|image editing)\b"
        ),
        2.0,
    ),
    (
        "vision",
        _rx(
            r"\b(images?|imaging|visual(?:ly)?|vision|videos?|pixels?|camera|segmentation"
            r"|object detection|detector|3d|point clouds?|scenes?|photos?\w*|mri|ct scans?"
            r"|x-rays?|radiolog\w+|diffusion models?|super-resolution|gaussian splatting"
            r"|depth estimation|optical flow|rendering|convolutional|vits?|yolo\w*|clip"
            r"|mesh(?:es)?|egocentric|histopatholog\w*)\b"
        ),
        1.0,
    ),
    (
        "text",
        _rx(
            r"\b(language models?|llms?|text(?:ual)?|nlp|natural language|sentences?"
            r"|question answering|translation|dialog(?:ue)?s?|chatbots?|corpus|corpora"
            r"|words?|tokens?|documents?|prompts?|reasoning|summari[sz]ation|chain-of-thought"
            r"|instruction[- ]tuning|conversations?|linguistic|multilingual|qa)\b"
        ),
        1.0,
    ),
    (
        "other",
        _rx(
            r"\b(robot\w*|locomotion|molecul\w+|proteins?|eeg|fmri|genom\w+|dna|rna"
            r"|time[- ]series|tabular|graph neural networks?|wireless|antenna\w*"
            r"|power (?:grid|system)s?|physics|chemi\w+|crystal\w*|traffic"
            r"|autonomous driving|drones?|uav\w*|lidar|embodied|mimo)\b"
        ),
        1.5,
    ),
]

CONTRIBUTION_RULES: list[Rule] = [
    ("survey", _rx(r"\b(a survey|survey(?:ing)? of|survey on|review of|systematic review)\b"), 4),
    ("survey", _rx(r"\b(this survey|we survey|we review|comprehensive (?:review|overview))\b"), 3),
    ("survey", _rx(r"\b(survey|overview|review|opportunities and challenges)\b"), 1),
    ("position", _rx(r"\b(position paper|this (?:paper|essay|work) argues|we argue that)\b"), 4),
    ("position", _rx(r"\b(we call for|calls? for|should|must|rethink\w*)\b"), 0.5),
    # Method papers report results "on four benchmarks": a mention is weak evidence, a title
    # that names a benchmark or dataset is strong.
    ("benchmark or dataset", _rx(r"\b(benchmark|dataset|corpus|test suite)s?\b"), 0.3),
    (
        "benchmark or dataset",
        _rx(r"\b(benchmark\w*|datasets?|corpus|\w*arena|leaderboard|\w+bench|\w+eval|\w+qa)\b"),
        1.5,
        "title",
    ),
    (
        "benchmark or dataset",
        _rx(
            r"\bwe (?:introduce|present|propose|construct|release|build|curate|create)"
            r"[^.]{0,80}?\b(?:benchmark|dataset|corpus|test suite|evaluation suite)\b"
        ),
        3.0,
    ),
    (
        "system or tool",
        _rx(
            r"\b(toolkit|toolbox|open-source (?:library|platform|system|tool|toolkit)"
            r"|python (?:library|package)|deployed in production)\b"
        ),
        1.5,
    ),
    ("system or tool", _rx(r"\b(technical report|tech report)\b"), 4.0),
    (
        "analysis or empirical study",
        _rx(
            r"\b(empirical(?:ly)? (?:study|analysis|evaluation|investigation)|we investigate"
            r"|we analy[sz]e|we examine|we study|this study|we find that|our findings"
            r"|we (?:show|reveal|observe) that|case study|systematic(?:ally)? (?:evaluat|analy)"
            r"\w*|an analysis)\b"
        ),
        1.0,
    ),
    (
        "analysis or empirical study",
        _rx(
            r"^(?:[^:]*:\s*)?(?:understanding|investigating|revisiting|rethinking|evaluating"
            r"|exploring|characteri[sz]ing|on the|do|does|are|is|can|when|why|how|what|which"
            r"|to what)\b|\?"
            r"|\b(analysis|study|evidence|investigation|lessons|comparative evaluation)\b"
        ),
        1.0,
        "title",
    ),
    (
        "method",
        _rx(
            r"\bwe (?:propose|introduce|present|develop|design)\b[^.]{0,60}?\b(?:method|approach"
            r"|framework|algorithm|model|technique|strategy|objective|loss|architecture"
            r"|pipeline|defen[cs]e|attack|mechanism|module|paradigm)\b"
        ),
        2.0,
    ),
    ("method", _rx(r"\b(novel|outperform\w*|state-of-the-art|improves?|achiev\w+)\b"), 0.5),
    ("method", _rx(r"\bwe propose\b"), 1.0),
    (
        "method",
        _rx(
            r"^(?:[^:]*:\s*)?(?:mitigating|improving|enhancing|boosting|towards?|learning"
            r"|optimizing|aligning|scaling|accelerating|training|steering|guiding|defending"
            r"|detecting|reducing|helping|leveraging|bridging|unlocking|teaching)\b"
            r"|\b(via|through|using|with)\b"
        ),
        1.0,
        "title",
    ),
    ("method", re.compile(r"^[A-Z][\w-]*[A-Z][\w-]*:"), 1.0, "title"),  # "SafeThink: …"
]

RULES: dict[str, list[Rule]] = {"modality": MODALITY_RULES, "contribution": CONTRIBUTION_RULES}


# Acronyms that name a modality in one field and something else in another: where a paper
# spells out the other meaning, its uses of the acronym are no cue (ASR is "attack success
# rate" in jailbreak papers, often undefined there: any attack context voids it; TTS is
# "test-time scaling" in reasoning papers).
AMBIGUOUS: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (_rx(r"attack success rates?|\battacks?\b|jailbreak\w*|adversarial"), re.compile(r"\bASRs?\b")),
    (_rx(r"test[- ]time scal\w+"), re.compile(r"\bTTS\b")),
]


def _unambiguous(text: str) -> str:
    """`text` without the acronyms whose other meaning it spells out."""
    for meaning, acronym in AMBIGUOUS:
        if meaning.search(text):
            text = acronym.sub(" ", text)
    return text


def _lowered(pattern: re.Pattern[str]) -> tuple[re.Pattern[str], bool]:
    """A case-insensitive pattern with no capital in it runs case-sensitively on lowercased
    text (the same matches, without the engine folding case at every step: 2-4× faster);
    anything else runs as written on the text as written."""
    if pattern.flags & re.IGNORECASE and pattern.pattern == pattern.pattern.lower():
        return re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE), True
    return pattern, False


Run = tuple[str, re.Pattern[str], bool, float, bool, tuple[str, ...] | None]


def _run(value: str, pattern: re.Pattern[str], weight: float, in_abstract: bool) -> Run:
    """A rule as cue_scores runs it: lowered where it can be, with its needles (a text
    without one is not scanned: same matches, most rules skip most texts)."""
    run_pattern, low = _lowered(pattern)
    return value, run_pattern, low, weight, in_abstract, needles(run_pattern)


_RUN: dict[str, list[Run]] = {
    dim: [_run(v, p, w, where != ["title"]) for v, p, w, *where in rules]
    for dim, rules in RULES.items()
}
_MEANINGS = [(_lowered(m)[0], needles(_lowered(m)[0])) for m, _ in AMBIGUOUS]
assert all(_lowered(m)[1] for m, _ in AMBIGUOUS), "AMBIGUOUS meanings run on lowercased text"


def _spells_other_meaning(text_low: str) -> bool:
    """Whether the lowercased text spells out another meaning of an ambiguous acronym."""
    return any(may_match(nd, text_low) and m.search(text_low) for m, nd in _MEANINGS)


def cue_scores(dimension: str, title: str, abstract: str) -> dict[str, float]:
    """Evidence per value from the title and abstract (empty for dimensions without rules)."""
    if dimension == "modality" and _spells_other_meaning((title + " " + abstract).lower()):
        title, abstract = _unambiguous(title + "\n" + abstract).split("\n", 1)
    scores: dict[str, float] = {}
    title_low, abstract_low = title.lower(), abstract.lower()
    for value, pattern, low, weight, in_abstract, found in _RUN.get(dimension, []):
        text = title_low if low else title
        hits = len(pattern.findall(text)) * TITLE_WEIGHT if may_match(found, text) else 0
        if in_abstract:
            text = abstract_low if low else abstract
            hits += len(pattern.findall(text)) if may_match(found, text) else 0
        if hits:
            scores[value] = scores.get(value, 0.0) + weight * hits
    return scores


def decide_modality(cues: dict[str, float]) -> tuple[str, float] | None:
    """A modality when the cues say it clearly, else None (the embedding classifier then
    decides, or nothing). Vision-language needs its own terms (a VLM, VQA, captioning), not
    vision words beside text words: image papers mention prompts, tokens and reasoning too,
    and a vision paper that names a VLM in passing is still a vision paper. A paper with strong
    evidence of both sound and images, neither more than twice the other (audio-visual
    models, talking faces), has no single modality: "several", which is no facet value; the
    classifier stores nothing for it and does not let neighbours fill it in."""
    speech, other = cues.get("speech", 0.0), cues.get("other", 0.0)
    both = cues.get("vision-language", 0.0)
    vision = cues.get("vision", 0.0) + both
    text = cues.get("text", 0.0)
    total = speech + vision + text + other
    # One kind of evidence alone may be weaker than mixed evidence that one kind leads.
    floor = 2 if sum(v > 0 for v in cues.values()) == 1 else 3
    if speech >= 4 and vision >= 4 and 0.5 * speech <= vision <= 2 * speech:
        return "several", (speech + vision) / total
    if total < floor:
        return None
    if speech >= 4 and speech >= 0.5 * max(vision, text + both):
        return "speech", speech / total
    if both >= 4 and both >= 0.5 * cues.get("vision", 0.0):
        return "vision-language", (both + min(vision - both, text)) / total
    if other >= 3 and other >= max(vision, text):
        return "other", other / total
    if vision >= floor and vision >= 2 * text:
        return "vision", vision / total
    if text >= floor and text >= 2 * vision:
        return "text", text / total
    return None


def decide_contribution(cues: dict[str, float]) -> tuple[str, float] | None:
    """A contribution type when one value's evidence clearly leads, else None."""
    if not cues:
        return None
    ranked = sorted(cues.items(), key=lambda kv: -kv[1])
    value, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if top >= 2 and top >= 1.5 * second:
        return value, top / sum(cues.values())
    return None


DECIDERS = {"modality": decide_modality, "contribution": decide_contribution}
