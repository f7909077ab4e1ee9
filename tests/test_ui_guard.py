"""The browser under hostile use (issue 18, items 11-12): `hierograph ui` listens on loopback
unless told otherwise, the editor key locks out after repeated failures, and paper ids with a
slash or URL characters open their page and travel intact in links."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from hierograph.graph.models import Assignment, Paper
from hierograph.settings import Settings
from hierograph.ui.keyguard import Lockout, reset_lockouts
from hierograph.ui.launch import streamlit_command
from hierograph.ui.nav import paper_url
from tests.test_ui import KEY, app, dated_store, open_page


def test_ui_listens_on_loopback_unless_an_address_is_given() -> None:
    assert "--server.address=127.0.0.1" in streamlit_command([])
    chosen = streamlit_command(["--server.address", "0.0.0.0"])
    assert "--server.address=127.0.0.1" not in chosen and chosen[-2:] == [
        "--server.address",
        "0.0.0.0",
    ]
    assert "--server.address=127.0.0.1" not in streamlit_command(["--server.address=::"])


def test_lockout_refuses_every_attempt_for_a_while_and_doubles() -> None:
    now = [0.0]
    lock = Lockout(max_failures=3, lock_seconds=10, clock=lambda: now[0])
    for _ in range(3):
        assert lock.wait_left() == 0
        lock.failed()
    assert lock.wait_left() == 10
    now[0] = 10.5
    assert lock.wait_left() == 0
    for _ in range(3):
        lock.failed()
    assert lock.wait_left() == 20  # the second lockout lasts twice as long
    lock.succeeded()
    assert lock.wait_left() == 0 and lock.failures == 0


def test_the_editor_key_locks_out_after_five_wrong_ones(monkeypatch, built_corpus: Settings):
    reset_lockouts()
    try:
        at = app(monkeypatch, built_corpus.home, KEY)
        at.run()
        box = "editor_key_input"
        for i in range(5):
            at.sidebar.text_input(key=box).input(f"guess-{i}").run()
            assert at.sidebar.error[0].value == "Wrong editor key."
        at.run()  # a rerun with the same wrong key in the box is not another attempt
        at.sidebar.text_input(key=box).input(KEY).run()
        assert at.sidebar.error[0].value.startswith("Too many wrong keys; try again in")
        assert not at.sidebar.success  # the right key is refused too while locked out
    finally:
        reset_lockouts()


def test_paper_urls_keep_odd_ids_intact() -> None:
    for pid in ("hep-th/9901001", "doi:10.1000/a&b#c", "x y+z%"):
        url = paper_url(pid)
        assert "#" not in url  # the topic table shows the title after a '#'
        assert parse_qs(urlsplit(url).query)["paper"] == [pid]
    assert paper_url("2501.01234") == "paper?paper=2501.01234"


def test_a_paper_with_a_slash_in_its_id_opens(monkeypatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with dated_store(home) as store:
        leaf = store.assignments()[0].topic_id
        store.upsert_papers(
            [Paper(id="hep-th/9901001", title="Old-style ids", abstract="We study strings.")]
        )
        store.upsert_assignments(
            [Assignment(paper_id="hep-th/9901001", topic_id=leaf, score=0.9, origin="human")]
        )
    at = open_page(app(monkeypatch, home), "paper", paper="hep-th/9901001")
    assert at.title[0].value == "Old-style ids"
    at = open_page(at, "topic", topic=leaf)
    titles = list(at.dataframe[0].value["title"])
    assert "paper?paper=hep-th/9901001#Old-style ids" in titles
