"""Third-party output policy: by default the libraries under Hierograph stay silent (no
transformers "Loading weights" bar, no Hugging Face Hub bars, no litellm banners such as "Give
Feedback / Get Help"), so a user sees Hierograph's own progress and results only. `hierograph
--verbose` lets them speak. Imports nothing of Hierograph, so every layer may use it."""

from __future__ import annotations

import logging
import os
import sys
from types import ModuleType

_verbose = False
# Environment switches each library reads when it is imported (most are imported late).
_QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # also turns off transformers' tqdm bars
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "LITELLM_LOG": "ERROR",
}


def set_verbose(verbose: bool) -> None:
    """Apply the policy for this process: quiet unless `verbose`. Libraries already imported
    are switched at once, the others when they are imported."""
    global _verbose
    _verbose = verbose
    if verbose:
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    if "litellm" in sys.modules:
        tame_litellm(sys.modules["litellm"])


def is_verbose() -> bool:
    return _verbose


def tame_litellm(litellm: ModuleType) -> None:
    """Called where litellm is imported: no banners or debug hints on provider errors (the
    error itself reaches the user as Hierograph's one-line message) unless verbose."""
    litellm.suppress_debug_info = not _verbose
    if not _verbose:
        litellm.set_verbose = False
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx", "openai"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
