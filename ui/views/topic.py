"""Topic: where it sits, what it is about, its subtopics, papers, facets, methods and code."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hierograph.ui import cache, data, nav

settings = cache.settings()
view = cache.tree()
root = view.root
assert root is not None

wanted = st.query_params.get("topic") or root.id
if wanted not in view.topics:
    st.warning(
        f"No topic {wanted!r} in the current tree (a rebuild or a merge may have removed it)."
    )
    wanted = root.id
ordered = [t.id for t in view.ordered_topics()]
picked = st.selectbox(
    "Topic",
    ordered,
    index=ordered.index(wanted),
    format_func=lambda t: (
        f"{'  ' * view.topics[t].level}{view.topics[t].label} ({view.paper_count(t):,})"
    ),
)
if picked != wanted:
    st.query_params["topic"] = picked
topic = view.topics[picked]

crumbs = st.columns(max(len(view.path(topic.id)), 1))
for col, step in zip(crumbs, view.path(topic.id), strict=False):
    if step.id == topic.id:
        col.markdown(f"**{step.label}**")
    else:
        nav.topic_link(step.id, f"{step.label} ›", where=col)

st.title(topic.label)
facts = [f"{view.paper_count(topic.id):,} papers", f"level {topic.level}"]
if view.recent_since:
    facts.append(
        f"{view.growth(topic.id):.0%} published in the last {settings.ui_recent_days} days"
    )
st.caption(" · ".join(facts) + " · topic id (copy it for `hierograph correct`):")
st.code(topic.id, language=None)
if topic.summary:
    st.write(topic.summary)
structured = [("Problem", topic.problem), ("Method", topic.method), ("Results", topic.results)]
if any(text for _, text in structured):
    st.markdown("\n".join(f"- **{name}:** {text}" for name, text in structured if text))
if topic.keywords:
    st.markdown("**Keywords:** " + ", ".join(topic.keywords))

kids = sorted(view.children.get(topic.id, []), key=lambda c: (-view.paper_count(c), c))
if kids:
    st.subheader(f"Subtopics ({len(kids)})")
    cols = st.columns(3)
    for i, kid in enumerate(kids):
        nav.topic_link(
            kid, f"{view.topics[kid].label} ({view.paper_count(kid):,})", where=cols[i % 3]
        )

papers = data.topic_papers(view, topic.id)
st.subheader(f"Papers ({len(papers):,})")
shown = papers[: settings.ui_topic_papers]
more = f"; the first {len(shown):,}" if len(shown) < len(papers) else ""
st.caption(
    f"By assignment score{more}; origin says who put the paper here (cluster, corrector, human)."
)
st.dataframe(
    pd.DataFrame(
        [
            {
                "title": nav.paper_url(p.paper_id) + "#" + p.title,
                "published": p.published or "",
                "score": p.score,
                "origin": p.origin,
                "topic": view.topics[p.topic_id].label,
            }
            for p in shown
        ],
        columns=["title", "published", "score", "origin", "topic"],
    ),
    column_config={
        "title": st.column_config.LinkColumn("title", display_text=r"#(.*)$", width="large"),
        "score": st.column_config.NumberColumn("score", format="%.3f"),
    },
    hide_index=True,
    key="topic_papers",
)

facets = data.facet_breakdown(cache.facets_by_paper(), (p.paper_id for p in papers))
if facets:
    st.subheader("Facets")
    cols = st.columns(min(len(facets), 3))
    for i, (dimension, values) in enumerate(facets.items()):
        with cols[i % len(cols)]:
            st.markdown(f"**{dimension}**")
            st.dataframe(
                pd.DataFrame(values[:10], columns=["value", "papers"]),
                hide_index=True,
                key=f"facet_{dimension}",
            )

answer = cache.code_for(topic.id)
if answer.methods:
    st.subheader("Methods and code")
    for mc in answer.methods[: settings.ui_topic_methods]:
        best = mc.implementations[0] if mc.implementations else None
        code = f" · code: [{best.entry or best.url}]({best.url})" if best else ""
        st.markdown(
            f"**{mc.method.name}** — {mc.method.description} ({len(mc.papers)} papers){code}"
        )
    st.page_link(
        nav.page("code"),
        label="Methods → papers → implementations for this topic",
        query_params={"topic": topic.id},
    )
