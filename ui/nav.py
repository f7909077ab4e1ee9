"""Pages, links between them (a topic or paper travels as a query parameter, so every view has
its own URL), the sidebar and the editor gate."""

from __future__ import annotations

import hmac
import math
from pathlib import Path
from urllib.parse import quote

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from hierograph.settings import Settings
from hierograph.ui.keyguard import editor_lockout

VIEWS = Path(__file__).resolve().parent / "views"
# name: (file, title, icon); the order is the sidebar's.
PAGE_SPECS: dict[str, tuple[str, str, str]] = {
    "map": ("map.py", "Map", ":material/donut_large:"),
    "papers": ("papers.py", "Paper map", ":material/scatter_plot:"),
    "topic": ("topic.py", "Topic", ":material/account_tree:"),
    "paper": ("paper.py", "Paper", ":material/article:"),
    "search": ("search.py", "Search", ":material/search:"),
    "code": ("code.py", "Concept → code", ":material/code:"),
    "review": ("review.py", "Review", ":material/rate_review:"),
}
EDITOR_FLAG = "hierograph_editor"
_CHECKED = "hierograph_editor_checked"  # the last typed key judged, so a rerun counts once


def make_pages(settings: Settings) -> dict[str, st.Page]:
    """Review exists only where an editor key is configured: without one the browser is
    read-only and offers no way to write."""
    names = [n for n in PAGE_SPECS if n != "review" or settings.ui_editor_key is not None]
    return {
        n: st.Page(
            str(VIEWS / PAGE_SPECS[n][0]),
            title=PAGE_SPECS[n][1],
            icon=PAGE_SPECS[n][2],
            url_path=n,
            default=n == "map",
        )
        for n in names
    }


def page(name: str) -> st.Page | str:
    pages: dict[str, st.Page] = st.session_state.get("hierograph_pages", {})
    return pages.get(name, str(VIEWS / PAGE_SPECS[name][0]))


def topic_link(topic_id: str, label: str, where: DeltaGenerator | None = None) -> None:
    (where or st).page_link(page("topic"), label=label, query_params={"topic": topic_id})


def paper_link(paper_id: str, label: str, where: DeltaGenerator | None = None) -> None:
    (where or st).page_link(page("paper"), label=label, query_params={"paper": paper_id})


def paper_url(paper_id: str) -> str:
    """Relative, so the app also works under a `server.baseUrlPath`; the id is URL-encoded
    (any `&`, `#`, `%`, `+`), a `/` as in hep-th/9901001 kept, as a query allows it."""
    return f"paper?paper={quote(paper_id, safe='/:')}"


def is_editor(settings: Settings) -> bool:
    return settings.ui_editor_key is not None and bool(st.session_state.get(EDITOR_FLAG))


def editor_gate(settings: Settings) -> None:
    """Sidebar key box: the configured key unlocks editing for this browser session."""
    if settings.ui_editor_key is None:
        st.sidebar.caption("Read-only. Set `ui_editor_key` in the settings to allow edits.")
        return
    if st.session_state.get(EDITOR_FLAG):
        st.sidebar.success("Editing unlocked")
        return
    typed = st.sidebar.text_input("Editor key", type="password", key="editor_key_input")
    if not typed:
        return
    lockout = editor_lockout(settings.ui_editor_max_failures, settings.ui_editor_lockout_seconds)
    fresh = st.session_state.get(_CHECKED) != typed
    wait = lockout.wait_left()
    if wait > 0:
        # Refused unheard, right or wrong: a guesser learns nothing while locked out.
        st.session_state[_CHECKED] = None
        st.sidebar.error(f"Too many wrong keys; try again in {math.ceil(wait)} s.")
        return
    expected = settings.ui_editor_key.get_secret_value()
    if hmac.compare_digest(typed.encode(), expected.encode()):
        lockout.succeeded()
        st.session_state[EDITOR_FLAG] = True
        st.rerun()
    if fresh:
        st.session_state[_CHECKED] = typed
        lockout.failed()
    st.sidebar.error("Wrong editor key.")
