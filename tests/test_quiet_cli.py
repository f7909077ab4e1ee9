"""No third-party noise in normal output: the demo's CLI steps (`make demo`: ingest, build,
show on the supplied corpus) print no progress bars or banners of the libraries underneath
(transformers' "Loading weights", Hugging Face Hub bars, litellm's banners); `--verbose` lets
them through, which shows the check can see them."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hierograph import noise
from hierograph.llm.client import LlmClient, LlmError

from .conftest import CORPUS

# What the libraries print: tqdm bars ("45%|████  | 46/103 [00:00<00:00, 3381.97it/s]"),
# transformers' weight loading, litellm's banners and hints.
NOISE = [
    re.compile(r"\d+%\|"),
    re.compile(r"\d+(\.\d+)?(it|s)/s\]"),
    re.compile(r"Loading weights"),
    re.compile(r"Give Feedback|Get Help|LiteLLM|Provider List|turn_on_debug"),
    re.compile(r"Batches:"),
]


def cli(home: Path, *args: str) -> str:
    env = {**os.environ, "HIEROGRAPH_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    for key in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY", "LITELLM_LOG"):
        env.pop(key, None)  # as a user's shell has them: unset
    done = subprocess.run(
        [sys.executable, "-m", "hierograph.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def noise_in(text: str) -> list[str]:
    return [m.group(0) for pattern in NOISE for m in [pattern.search(text)] if m]


@pytest.mark.slow
def test_demo_steps_print_no_third_party_bars_or_banners(tmp_path):
    # A fresh home, no embedding cache: the build loads the model, as on a first `make demo`.
    home = tmp_path / "home"
    output = cli(home, "ingest", str(CORPUS))
    output += cli(home, "build")
    output += cli(home, "show", "--depth", "3")
    assert "49 ingested" in output and "over 49 papers" in output
    assert noise_in(output) == [], output
    # The same kind of step with --verbose: the model's bar shows, so the check above can fail.
    loud = cli(home, "--verbose", "export", "--format", "bibtex", "--query", "reward model",
               "--out", str(tmp_path / "hits.bib"))  # fmt: skip
    assert "Loading weights" in loud


def test_litellm_banners_only_with_verbose(monkeypatch, capsys):
    """A provider error (no key) reaches the caller as one LlmError; litellm's own banner is
    printed only when verbose."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ask = [{"role": "user", "content": "hi"}]
    try:
        for verbose in (False, True):
            noise.set_verbose(verbose)
            with pytest.raises(LlmError, match="gpt-4o-mini"):
                asyncio.run(LlmClient("openai/gpt-4o-mini", timeout=5).complete(ask))
            printed = capsys.readouterr()
            banner = "Give Feedback" in printed.out + printed.err
            assert banner is verbose
    finally:
        noise.set_verbose(False)


@pytest.mark.slow
def test_the_python_api_prints_no_third_party_bars_unless_verbose(tmp_path):
    """A notebook has no CLI entry point: the facade sets the same policy. A fresh process
    (transformers not yet told anything) builds and searches the supplied corpus in silence;
    with verbose=True the model's bar shows, so the check can fail."""
    script = (
        "import sys\n"
        "from hierograph import Hierograph\n"
        "with Hierograph(sys.argv[1], verbose=sys.argv[2] == 'loud') as hg:\n"
        f"    hg.ingest({str(CORPUS)!r})\n"
        "    hg.build()\n"
        "    print(len(hg.search('reward model', k=3)), 'hits')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for key in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY", "LITELLM_LOG"):
        env.pop(key, None)
    outputs = {}
    for mode in ("quiet", "loud"):
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / mode), mode],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr
        outputs[mode] = done.stdout + done.stderr
    assert "3 hits" in outputs["quiet"]
    assert noise_in(outputs["quiet"]) == [], outputs["quiet"]
    assert "Loading weights" in outputs["loud"]
