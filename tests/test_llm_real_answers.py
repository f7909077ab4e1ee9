"""What a real small model (Qwen2.5-Coder 0.5B/1.5B behind llama-cpp-python's server, in
bench/bench_llm.py) answers that scripted mocks never did, each through the real client:
litellm's own mock responses shaped like those answers, and a llama.cpp-like HTTP server on
127.0.0.1 for what goes over the wire."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from hierograph.api.finder import _SYSTEM as FINDER_PROMPT
from hierograph.api.finder import LlmRanking, parse_ranking
from hierograph.jobs.components import client_from_settings
from hierograph.llm.client import (
    LlmClient,
    ask_until_valid,
    extract_json_object,
    parse_json_answer,
    unreachable_note,
)
from hierograph.llm.facets import FACET_PROMPT, PaperFacets
from hierograph.llm.label import SYSTEM_PROMPT as LABEL_PROMPT
from hierograph.llm.label import TopicLabel, clean_label, parse_answer, title_keys
from hierograph.llm.paper_summaries import SUMMARY_PROMPT, SummaryAnswer
from hierograph.llm.refine import SYSTEM_PROMPT as REFINE_PROMPT
from hierograph.llm.refine import MergeAnswer
from hierograph.settings import Settings

from .llm_stub_server import StubLlm

LABEL = {
    "label": "Reward model overoptimization",
    "summary": "The papers study how policies exploit learned reward models.",
    "keywords": ["reward hacking", "overoptimization", "RLHF", "proxy reward", "scaling"],
    "problem": "Policies exploit flaws in learned reward models.",
    "method": "They measure and regularize the gap between proxy and true reward.",
    "results": "Overoptimization follows predictable scaling laws.",
}
VOCAB = {"rewar", "model", "overo", "hacki"}
ASK = [{"role": "system", "content": LABEL_PROMPT}, {"role": "user", "content": "Name it."}]


def mock_client(*answers: str, **kwargs) -> LlmClient:
    """A real LlmClient whose provider answers come from litellm's mock_response, in order."""
    queue = list(answers)
    return LlmClient("openai/qwen2.5-coder-0.5b-instruct", mock=lambda _: queue.pop(0), **kwargs)


# --- JSON the way small models write it ---
def test_json_in_a_markdown_fence_is_read():
    # 1.5B without response_format: "```json\n{\n  ...\n}\n```"
    fenced = "```json\n" + json.dumps(LABEL, indent=2) + "\n```"
    assert parse_answer(fenced, VOCAB).label == LABEL["label"]
    prose = "Here is the JSON object:\n\n" + fenced + "\n\nLet me know if you need changes {ok}."
    assert parse_answer(prose, VOCAB).summary == LABEL["summary"]


def test_json_after_chatty_prose_with_braces_is_read():
    text = "Sure! The {topic} is below.\n" + json.dumps(LABEL) + "\nI hope {this} helps."
    assert extract_json_object(text)["label"] == LABEL["label"]


def test_raw_newlines_inside_json_strings_are_accepted():
    raw = json.dumps(LABEL).replace("learned reward models.", "learned\nreward\tmodels.")
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    answer = parse_answer(raw, VOCAB)
    assert answer.summary.endswith("exploit learned reward models.")


def test_no_json_and_broken_json_say_so():
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json_object("I cannot summarize this paper.")
    with pytest.raises(ValueError, match="invalid JSON"):
        extract_json_object('{"label": "Reward hacking", "summary": ')


# --- placeholders ---
PROMPTS = [LABEL_PROMPT, SUMMARY_PROMPT, FACET_PROMPT, REFINE_PROMPT, FINDER_PROMPT]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_prompts_describe_fields_in_words_not_placeholders(prompt):
    assert not re.search(r'"<[^>]*>"', prompt)
    assert "<=" not in prompt


def test_a_copied_placeholder_is_refused_and_re_asked():
    copied = {**LABEL, "label": "<at most 6 words>", "results": "<one sentence>"}
    with pytest.raises(ValueError, match="label, results: write the actual content"):
        parse_answer(json.dumps(copied), VOCAB)
    client = mock_client(json.dumps(copied), json.dumps(LABEL))
    asked = ask_until_valid(client, {"t": ASK}, lambda _, r: parse_answer(r, VOCAB), 3)
    assert asked.answers["t"].label == LABEL["label"] and asked.calls == 2
    assert (client.usage.first_asks, client.usage.first_valid) == (1, 0)
    re_ask = client.usage.calls  # the re-ask carried the reason
    assert re_ask == 2


# --- labels too long, or a paper's title ---
def test_long_title_style_labels_are_cut_at_the_colon():
    assert clean_label("Reward Hacking: A Survey of Proxy Objectives in RL.") == "Reward Hacking"
    assert clean_label('"Direct Preference Optimization (DPO) for Language Models"') == (
        "Direct Preference Optimization for Language Models"
    )
    assert (
        clean_label("Direct Preference Optimization (DPO)")
        == "Direct Preference Optimization (DPO)"
    )
    assert clean_label("Jailbreak attacks") == "Jailbreak attacks"
    merge = MergeAnswer.model_validate(
        {
            "merge": True,
            "label": "Decoding-time alignment - methods that align models at inference",
            "reason": "x.",
        }
    )
    assert merge.label == "Decoding-time alignment"


def test_a_label_over_six_words_is_re_asked_then_kept():
    long = {**LABEL, "label": "Attention Mechanisms In Natural Language Processing For Models"}
    with pytest.raises(ValueError, match="1 to 6 words, not 8"):
        parse_answer(json.dumps(long), VOCAB)
    client = mock_client(json.dumps(long), json.dumps(LABEL))
    asked = ask_until_valid(client, {"t": ASK}, lambda _, r: parse_answer(r, VOCAB), 3)
    assert asked.answers["t"].label == "Reward model overoptimization"


def test_a_keyword_list_as_label_is_refused():
    """The 0.5B model copied the prompt's keyword lists (its own or a sibling's) as labels."""
    for copied in ("DNA, sequence, sequences, data, instruction", "Gradient, Engineering"):
        with pytest.raises(ValueError, match="label is a list of keywords"):
            parse_answer(json.dumps({**LABEL, "label": copied}), VOCAB | {"gradi", "dna"})
    with pytest.raises(ValueError, match="list of keywords"):
        MergeAnswer.model_validate({"merge": True, "label": "reward; hacking", "reason": "x."})


def test_a_re_ask_samples_where_the_first_ask_is_greedy(tmp_path):
    """At temperature 0 the real model re-sent its invalid answer word for word."""
    with StubLlm(lambda body: json.dumps(LABEL)) as server:
        client = LlmClient("openai/stub", api_base=server.api_base, api_key="k")
        bad = json.dumps({**LABEL, "label": "Reward, hacking"})
        conversation = [*ASK, {"role": "assistant", "content": bad}]
        client.run_all([ASK, [*conversation, {"role": "user", "content": "That is invalid."}]])
        temperatures = sorted(r.body["temperature"] for r in server.requests)
    assert temperatures == [0, client.retry_temperature] and client.retry_temperature > 0


def test_a_label_that_copies_a_paper_title_is_refused():
    titles = title_keys(["DeAL: Decoding-time Alignment for Large Language Models", "Reward Model"])
    for copied in ("DeAL", "Reward model", "deal"):
        with pytest.raises(ValueError, match="copies a paper's title"):
            parse_answer(json.dumps({**LABEL, "label": copied}), VOCAB | {"deal"}, titles)
    assert parse_answer(json.dumps(LABEL), VOCAB, titles).label == LABEL["label"]


# --- finder ranking, facets and summaries as the model writes them ---
def test_summary_fields_as_the_real_model_wrote_them_validate():
    """Qwen2.5-Coder 0.5B's summaries (bench_llm.py): a title-like fragment, several sentences."""
    answer = {
        "problem": "Benchmarking Large Language Models in Tournament Style",
        "method": "Direct pairwise comparison of LLM outputs across a diverse set of prompts",
        "results": "The Varco Arena tournament approach aligns better with the current Elo "
        "model. The alignment is measured in terms of Spearman correlation, e.g. on GPT-4.",
    }
    parsed = parse_json_answer(json.dumps(answer), SummaryAnswer)
    assert parsed.problem == "Benchmarking Large Language Models in Tournament Style."
    assert parsed.results.endswith("current Elo model.")
    with pytest.raises(ValueError, match="results must be exactly one sentence"):
        parse_json_answer(json.dumps({**answer, "results": "  "}), SummaryAnswer)


def test_json_mode_schema_bounds_lists_and_strings():
    """A JSON grammar without bounds let the model loop (2,206 tokens for one label)."""
    schema = TopicLabel.model_json_schema()["properties"]
    assert (schema["keywords"]["minItems"], schema["keywords"]["maxItems"]) == (5, 5)
    assert schema["label"]["maxLength"] <= 100
    assert all(schema[f]["maxLength"] for f in ("summary", "problem", "method", "results"))
    assert TopicLabel.model_json_schema()["required"] == list(LABEL)


def test_finder_ranking_in_a_fence_and_with_prose():
    assert parse_ranking('```json\n{"ranking": [2, 1, 3]}\n```', 3) == [1, 0, 2]
    assert parse_ranking('The ranking is {"ranking": [3]} since it fits.', 3) == [2]


def test_facet_and_summary_answers_with_raw_newlines_validate():
    facets = (
        '{"contribution": "method", "modality": "text",\n "problem": "reward\nhacking", '
        '"technique": "RLHF"}'
    )
    assert parse_json_answer(facets, PaperFacets).problem == "reward\nhacking"
    summary = (
        '{\n  "problem": "Reward models are\nexploited.",\n  "method": "A penalty.",\n'
        '  "results": "Less hacking."\n}'
    )
    assert parse_json_answer(summary, SummaryAnswer).method == "A penalty."


# --- what goes over the wire ---
def test_json_mode_is_json_object_with_the_schema_and_settings_reach_litellm(tmp_path):
    with StubLlm(lambda body: json.dumps(LABEL)) as server:
        settings = Settings(
            home=tmp_path,
            llm="openai/stub",
            llm_api_base=server.api_base,
            llm_api_key="sk-from-settings",
        )
        client = client_from_settings(settings)
        asked = ask_until_valid(
            client, {"t": ASK}, lambda _, r: parse_answer(r, VOCAB), 1, schema=TopicLabel
        )
        assert asked.answers["t"].label == LABEL["label"]
        sent = server.requests[-1]
        assert sent.body["response_format"] == {
            "type": "json_object",
            "schema": TopicLabel.model_json_schema(),
        }
        assert sent.headers["authorization"] == "Bearer sk-from-settings"
        assert sent.body["model"] == "stub"
        assert sent.body["max_tokens"] == settings.llm_max_tokens

        plain = LlmClient("openai/stub", api_base=server.api_base, api_key="k", json_mode="off")
        plain.run_all([ASK], LlmRanking)
        assert "response_format" not in server.requests[-1].body
        hosted = LlmClient(
            "openai/stub", api_base=server.api_base, api_key="k", json_mode="json_object"
        )
        hosted.run_all([ASK], LlmRanking)
        assert server.requests[-1].body["response_format"] == {"type": "json_object"}


def test_no_server_says_so_in_one_line_without_litellm_banners(capfd):
    with StubLlm(lambda body: "") as server:
        closed = server.api_base  # nothing listens once the stub has stopped
    client = LlmClient("openai/stub", api_base=closed, api_key="k", timeout=5)
    asked = ask_until_valid(client, {"a": ASK, "b": ASK}, lambda _, r: r, 3, schema=TopicLabel)
    assert asked.provider_down and asked.calls == 2
    note = unreachable_note(client)
    assert note is not None and "\n" not in note
    assert f"openai/stub at {closed} could not be reached (" in note
    assert "Connection error" in note
    out = capfd.readouterr()
    for noise in ("Give Feedback", "LiteLLM", "Provider List", "litellm._turn_on_debug"):
        assert noise not in out.out + out.err


def test_the_cost_map_is_never_fetched_online():
    """Hierograph imports litellm with its bundled price list: no network at import."""
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    code = "import hierograph.llm.client, litellm; print(len(litellm.model_cost) > 100)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "True", done.stderr
    assert "cost map" not in done.stderr


# The 0.5B model's refine answers on the demo corpus (bench/out/llm.json, 2026-11-30): "merge"
# true, while the reason it wrote first says the topics differ.
REAL_MERGE_ANSWER = (
    '{ "merge": true, "reason": "The two topics look similar in embedding similarity 0.89, but '
    "they differ in problem and method. The first topic is about self-alignment, while the "
    "second is about machine translation. Therefore, we should merge these topics into one "
    'topic." }'
)


def test_a_merge_whose_reason_says_the_topics_differ_is_re_asked():
    with pytest.raises(ValueError, match="reason says the topics differ"):
        parse_json_answer(REAL_MERGE_ANSWER, MergeAnswer)
    same = '{"reason": "Both are about reward hacking; they do not differ.", "merge": true}'
    assert parse_json_answer(same, MergeAnswer).merge
    apart = REAL_MERGE_ANSWER.replace('"merge": true', '"merge": false')
    assert parse_json_answer(apart, MergeAnswer).merge is False
    client = mock_client(REAL_MERGE_ANSWER, apart)
    ask = [{"role": "system", "content": REFINE_PROMPT}, {"role": "user", "content": "Merge?"}]
    asked = ask_until_valid(client, {"m": ask}, lambda _, r: parse_json_answer(r, MergeAnswer), 2)
    assert asked.answers["m"].merge is False and asked.calls == 2


def test_the_merge_schema_puts_the_reason_before_the_decision():
    """Under llama.cpp's JSON grammar keys come in the schema's order: reason, then merge."""
    assert list(MergeAnswer.model_json_schema()["properties"])[:2] == ["reason", "merge"]


def test_latex_copied_into_a_summary_is_stripped_even_when_json_ate_its_backslash():
    """The 0.5B model copied "\\textbf{Varco Arena}" from the abstract into its JSON; JSON reads
    "\\t" as a tab, and the stored summary said "The extbf{Varco Arena} tournament approach"."""
    real = (
        r'{ "problem": "Benchmarking Large Language Models in Tournament Style", "method": '
        r'"Direct pairwise comparison of LLM outputs across a diverse set of prompts, '
        r'determining model rankings through a single-elimination tournament structure", '
        r'"results": "The \textbf{Varco Arena} tournament approach aligns better with the '
        r'current Elo model for benchmarking LLMs." }'
    )
    answer = parse_json_answer(real, SummaryAnswer)
    assert answer.results.startswith("The Varco Arena tournament approach aligns")
    assert answer.problem == "Benchmarking Large Language Models in Tournament Style."
    kept = parse_json_answer(
        '{"problem": "Ranking {k} items.", "method": "We sort\\nthem.", "results": "Done."}',
        SummaryAnswer,
    )
    assert (kept.problem, kept.method) == ("Ranking {k} items.", "We sort them.")
