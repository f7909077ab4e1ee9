from hierograph.ingest.page import parse_page
from hierograph.ingest.urls import clean_url, extract_urls, split_urls

from .conftest import CORPUS


def test_corpus_code_urls_are_clean():
    code = sorted(u for _, p in parse_page(CORPUS).papers for u in p.code_urls)
    assert code == sorted(
        [
            "https://anonymous.4open.science/r/I-SHEEP",
            "https://github.com/BradyFU/Awesome-Multimodal-Large-Language-Models/tree/Alignment",
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
            "https://huggingface.co/PKU-Baichuan-MLSystemLab/Llama3-PBM-Nova-70B",
            "https://huggingface.co/THUDM",
        ]
    )
    for url in code:
        assert not url.endswith((".", ",", ")", "}", ".git", "/")), url
        assert "{" not in url


def test_cleaning_rules():
    assert clean_url("https://github.com/a/b.git.") == "https://github.com/a/b"
    assert clean_url("https://GitHub.com/a/b/),") == "https://github.com/a/b"
    assert (
        clean_url("https://en.wikipedia.org/wiki/Foo_(bar)")
        == "https://en.wikipedia.org/wiki/Foo_(bar)"
    )
    doubled = "see https://github.com/x/y{https://github.com/x/y}. and (https://x.org/p)."
    assert extract_urls(doubled) == ["https://github.com/x/y", "https://x.org/p"]
    code, other = split_urls("Code: https://gitlab.com/g/p; site https://proj.github.io/p/")
    assert code == ["https://gitlab.com/g/p"] and other == ["https://proj.github.io/p"]
