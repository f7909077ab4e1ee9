"""Review (editors only): the corrector's queue and hand edits of the tree. Every action is a
correction (curation/corrections.py): applied at once, logged, undoable."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from hierograph.curation import corrections as corr
from hierograph.curation.corrector import CorrectorError, review_queue
from hierograph.graph.models import Correction
from hierograph.graph.store import GraphStore, StoreError
from hierograph.ui import cache, nav

settings = cache.settings()
view = cache.tree()
handle = cache.handle()
actor = settings.correction_actor
MESSAGE = "review_message"

st.title("Review")
if not nav.is_editor(settings):
    st.info("Editing is locked: enter the editor key in the sidebar.")
    st.stop()


def act(what: Callable[[GraphStore], Correction]) -> None:
    """Run one correction, then re-read everything so the change shows at once."""
    try:
        entry = handle.read(what)
    except (corr.CorrectionError, StoreError) as e:
        st.session_state[MESSAGE] = ("error", str(e))
    else:
        st.session_state[MESSAGE] = ("success", f"Correction #{entry.id} ({entry.kind}) applied.")
    cache.invalidate()
    st.rerun()


if MESSAGE in st.session_state:
    level, text = st.session_state.pop(MESSAGE)
    (st.success if level == "success" else st.error)(text)

leaves = [t.id for t in view.ordered_topics() if view.is_leaf(t.id)]
topics = [t.id for t in view.ordered_topics()]


def label(t: str | None) -> str:
    return "—" if t is None else f"{view.path_label(t)} ({view.paper_count(t)})"


def title(paper_id: str) -> str:
    brief = view.papers.get(paper_id)
    return brief.title if brief else paper_id


def name(topic_id: str | None) -> str:
    return view.topics[topic_id].label if topic_id in view.topics else str(topic_id or "")


# --- the corrector's queue ---------------------------------------------------------------------
st.subheader("Review queue")
try:
    queue = handle.read(lambda s: review_queue(s, settings.ui_review_queue))
except CorrectorError as e:
    queue = []
    st.info(str(e))
if queue:
    st.caption("Least likely right placements first (from the last `hierograph corrector apply`).")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "p": i.probability,
                    "paper": title(i.paper_id),
                    "in topic": name(i.topic_id),
                    "proposal": f"{i.proposal} → {name(i.proposed_topic)}"
                    if i.proposed_topic
                    else i.proposal,
                }
                for i in queue
            ]
        ),
        column_config={"p": st.column_config.NumberColumn("p", format="%.2f")},
        hide_index=True,
        key="queue_table",
    )
    pick = st.selectbox(
        "Item",
        range(len(queue)),
        format_func=lambda k: (
            f"{queue[k].probability:.2f} · {title(queue[k].paper_id)} "
            f"— in {name(queue[k].topic_id)}"
        ),
    )
    item = queue[pick]
    nav.paper_link(item.paper_id, "Open the paper")
    c1, c2, c3 = st.columns(3)
    if c1.button("Confirm", help="The paper belongs here: the assignment becomes a human one."):
        act(lambda s: corr.confirm_paper(s, item.paper_id, item.topic_id, actor))
    default = leaves.index(item.proposed_topic) if item.proposed_topic in leaves else 0
    target = c2.selectbox("Move to", leaves, index=default, format_func=label, key="move_to")
    if c2.button("Move"):
        act(lambda s: corr.move_paper(s, item.paper_id, item.topic_id, target, actor))
    extra = c3.selectbox("Also in", leaves, index=default, format_func=label, key="add_to")
    if c3.button("Add topic"):
        act(lambda s: corr.add_topic(s, item.paper_id, extra, actor))

# --- topics --------------------------------------------------------------------------------------
st.subheader("Topics")
topic = st.selectbox("Topic", topics[1:], format_func=label, key="edit_topic")
c1, c2 = st.columns(2)
with c1:
    new_label = st.text_input("New label", value=view.topics[topic].label, key="new_label")
    if st.button("Rename"):
        act(lambda s: corr.rename_topic(s, topic, new_label, actor=actor))
with c2:
    same_kind = [t for t in topics[1:] if t != topic and view.is_leaf(t) == view.is_leaf(topic)]
    into = st.selectbox("Merge into", same_kind, format_func=label, key="merge_into")
    if st.button("Merge", disabled=not same_kind):
        act(lambda s: corr.merge_topics(s, topic, into, actor))

# --- undo ----------------------------------------------------------------------------------------
st.subheader("Undo")
active = handle.read(lambda s: corr.active_corrections(s.corrections()))
if not active:
    st.caption("No correction to undo.")
else:
    last = active[-1]
    st.caption(f"Last correction: #{last.id} {last.kind} by {last.actor} at {last.at}")
    if st.button(f"Undo #{last.id}"):
        act(lambda s: corr.undo(s, last.id or 0, actor))
