"""The cue rules skip their regex on texts without one of its needles (hierarchy/needles.py):
that must never drop a match."""

from __future__ import annotations

import re

from hierograph.hierarchy.facet_cues import _MEANINGS, _RUN
from hierograph.hierarchy.needles import may_match, needles


def test_needles_of_literals_groups_alternations_and_repeats() -> None:
    assert needles(re.compile(r"\bwe propose\b")) == ("we propose",)
    assert needles(re.compile(r"\b(images?|l?vlms?|\w*arena)\b")) == ("vlm", "arena", "image")
    assert needles(re.compile(r"(ab)+c?")) == ("ab",)
    # No required literal, or an empty branch: the pattern must always run.
    assert needles(re.compile(r"\w+ing")) == ("ing",)
    assert needles(re.compile(r"[a-z]+")) is None
    assert needles(re.compile(r"(a|)b?")) is None
    assert needles(re.compile("speech", re.IGNORECASE)) is None


def test_no_rule_loses_a_match_to_its_needles() -> None:
    """Every rule against texts made to match it in many ways, and the shared words around."""
    texts = [
        "We propose a novel VLM benchmark (VQA) for speech, audio and text-to-image models.",
        "LLMs, robots, EEG and time-series; is this a survey? Our findings: we find that TTS",
        "Hate speech detection; part-of-speech tags; speech acts; spoken ASR with attacks.",
        "Mitigating jailbreaks via steering: SafeThink: a technical report on MLLMs and 3D.",
        "test-time scaling, multimodal large language models, image-text, Video-LLMs, ct scans",
    ]
    patterns = [rule[1] for rules in _RUN.values() for rule in rules]
    patterns += [m for m, _ in _MEANINGS]
    checked = 0
    for pattern in patterns:
        found = needles(pattern)
        for text in texts + [t.lower() for t in texts]:
            if pattern.search(text):
                assert may_match(found, text), (pattern.pattern, text)
                checked += 1
    assert checked > len(patterns)  # the texts do exercise the rules
