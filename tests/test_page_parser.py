from pathlib import Path

from hierograph.ingest.page import parse_page

from .conftest import CORPUS

HEADER = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\n"
    "byAK and the research community\n\nJul 25\n\n"
)
ABSTRACT = "We study something important about language models. " * 6


def _write(tmp_path: Path, text: str, newline: str = "\n") -> Path:
    path = tmp_path / "page.txt"
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def test_supplied_corpus_gives_every_title_abstract_pair_and_nothing_else():
    parsed = parse_page(CORPUS)
    # The file holds 49 title/blank/abstract/blank groups after its 5 banner and date lines:
    # count them independently of the parser.
    lines = [line for line in CORPUS.read_text().splitlines() if line.strip()]
    assert len(lines) == 5 + 2 * len(parsed.papers)
    titles = [p.title for _, p in parsed.papers]
    assert titles[0] == "Efficient Alignment of Large Language Models via Data Sampling"
    assert titles[-1].startswith("Tradeoffs Between Alignment and Helpfulness")
    assert not any(t in {"new", "Subscribe", "Jul 25"} for t in titles)
    assert parsed.rejects == []
    assert all(len(p.abstract) > 300 for _, p in parsed.papers)
    assert len({p.id for _, p in parsed.papers}) == len(parsed.papers)


def test_missing_abstract_and_title_only_tail_are_rejected_with_line_numbers(tmp_path):
    text = (
        HEADER
        + f"First Paper\n\n{ABSTRACT}\n\nOrphan Title\n\nSecond Paper\n\n{ABSTRACT}\n\nTail Title\n"
    )
    parsed = parse_page(_write(tmp_path, text))
    assert [p.title for _, p in parsed.papers] == ["First Paper", "Second Paper"]
    reasons = {(r.line, r.reason) for r in parsed.rejects}
    assert (15, "title without an abstract") in reasons
    assert (21, "title-only tail: no abstract follows") in reasons
    assert len(parsed.rejects) == 2


def test_crlf_line_ends_parse_like_lf(tmp_path):
    text = HEADER + f"First Paper\n\n{ABSTRACT}\n\nSecond Paper\n\n{ABSTRACT}\n"
    lf = parse_page(_write(tmp_path, text))
    crlf = parse_page(_write(tmp_path, text, "\r\n"))
    assert [p for _, p in crlf.papers] == [p for _, p in lf.papers]
    assert "\r" not in crlf.papers[0][1].title


def test_non_ascii_text_is_kept(tmp_path):
    text = HEADER + f"Alignement des modèles: Überblick — 日本語\n\n{ABSTRACT} Ça marche.\n"
    parsed = parse_page(_write(tmp_path, text))
    paper = parsed.papers[0][1]
    assert paper.title == "Alignement des modèles: Überblick — 日本語"
    assert paper.abstract.endswith("Ça marche.")


def test_undecodable_line_is_rejected_not_fatal(tmp_path):
    path = tmp_path / "page.txt"
    body = HEADER + f"Good Paper\n\n{ABSTRACT}\n\n"
    path.write_bytes(body.encode() + b"Bad \xff\xfe Title\n\n" + ABSTRACT.encode() + b"\n")
    parsed = parse_page(path)
    assert [p.title for _, p in parsed.papers] == ["Good Paper"]
    reasons = [r.reason for r in parsed.rejects]
    assert "unreadable encoding (not UTF-8)" in reasons
    assert "abstract without a title" in reasons


def test_page_without_date_line_skips_banner(tmp_path):
    text = "Subscribe\n\n" + f"Only Paper\n\n{ABSTRACT}\n"
    parsed = parse_page(_write(tmp_path, text))
    assert [p.title for _, p in parsed.papers] == ["Only Paper"]
