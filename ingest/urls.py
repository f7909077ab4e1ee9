"""URLs found in abstracts and comments, cleaned of the debris that text and LaTeX leave."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# Braces end a URL: LaTeX's \href{url}{url} leaves doubled copies glued together.
_URL = re.compile(r"https?://[^\s<>\"'{}\\\[\]|^`]+", re.IGNORECASE)
_TRAILING = ".,;:)]'\"!?*"
CODE_HOSTS = ("github.com", "gitlab.com", "huggingface.co", "anonymous.4open.science")


def clean_url(raw: str) -> str:
    url = raw.rstrip(_TRAILING)
    # A trailing ')' is kept only when it closes a '(' inside the URL (wiki-style paths).
    if raw[len(url) : len(url) + 1] == ")" and url.count("(") > url.count(")"):
        url += ")"
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def extract_urls(*texts: str | None) -> list[str]:
    """Distinct cleaned URLs in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in _URL.findall(text or ""):
            url = clean_url(match)
            if urlsplit(url).netloc:
                seen.setdefault(url, None)
    return list(seen)


def is_code_url(url: str) -> bool:
    host = urlsplit(url).netloc.removeprefix("www.")
    return host in CODE_HOSTS and urlsplit(url).path not in ("", "/")


def split_urls(*texts: str | None) -> tuple[list[str], list[str]]:
    """(code_urls, other urls) found in `texts`."""
    urls = extract_urls(*texts)
    return [u for u in urls if is_code_url(u)], [u for u in urls if not is_code_url(u)]
