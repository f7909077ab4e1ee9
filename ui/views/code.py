"""Concept → code: a topic or a method → its methods → their papers → implementations, and the
command that writes a runnable recipe."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hierograph.methods.reproduce import recipe_implementations
from hierograph.ui import cache, data, nav

settings = cache.settings()
view = cache.tree()
methods = {m.id: m for m in cache.methods()}

st.title("Concept → code")
if not methods:
    st.info("No methods linked yet: run `hierograph link` (or `hierograph build`).")
    st.stop()

by = st.segmented_control(
    "Start from",
    ["method", "topic"],
    default="topic" if "topic" in st.query_params else "method",
)
if by == "topic":
    ordered = [t.id for t in view.ordered_topics()]
    wanted = st.query_params.get("topic")
    concept = st.selectbox(
        "Topic",
        ordered,
        index=ordered.index(wanted) if wanted in ordered else 0,
        format_func=lambda t: view.path_label(t),
    )
else:
    counts = cache.method_paper_counts()
    # The most-studied methods first: the likeliest to be looked for.
    ids = sorted(methods, key=lambda m: (-counts.get(m, 0), methods[m].name.casefold()))
    wanted = st.query_params.get("method")
    concept = st.selectbox(
        "Method",
        ids,
        index=ids.index(wanted) if wanted in ids else 0,
        format_func=lambda m: f"{methods[m].name} ({counts.get(m, 0)} papers)",
    )

answer = cache.code_for(concept)
if not answer.methods:
    st.info("No method is linked to this topic; pick a broader topic or a method.")
for mc in answer.methods:
    method = mc.method
    with st.container(border=True):
        st.subheader(method.name)
        st.caption(
            f"{method.description}"
            + (f" · also: {', '.join(method.aliases)}" if method.aliases else "")
        )
        proposing = [p for p in mc.papers if p.relation == "PROPOSES"]
        using = [p for p in mc.papers if p.relation == "USES"]
        st.markdown(f"**Papers** — {len(proposing)} propose it, {len(using)} use it")
        for ref in [*proposing, *using][: settings.ui_code_papers]:
            verb = "proposes" if ref.relation == "PROPOSES" else "uses"
            nav.paper_link(ref.paper_id, f"{ref.title} ({verb})")
        if mc.implementations:
            st.markdown("**Implementations**")
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "rank": i.rank,
                            "url": i.url,
                            "entry": i.entry or "",
                            "since": i.since or "",
                            "until": i.until or "",
                            "link": "dead" if i.ok is False else ("ok" if i.ok else ""),
                        }
                        for i in mc.implementations
                    ]
                ),
                column_config={"url": st.column_config.LinkColumn("url")},
                hide_index=True,
                key=f"impl_{method.id}",
            )
        if recipe_implementations(method):
            st.markdown("**Reproduce** (writes a minimal runnable training script)")
            st.code(data.reproduce_command(method.id, settings.ui_reproduce_dir), language="bash")
