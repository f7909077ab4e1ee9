"""Map: the whole hierarchy at a glance, sized by papers and coloured by growth; trends."""

from __future__ import annotations

import streamlit as st

from hierograph.ui import cache, data, nav

settings = cache.settings()
view = cache.tree()
root = view.root
assert root is not None  # app.py stops before any page when there is no tree

st.title("Map of the field")
overall = data.corpus_growth(view)
colour = (
    f"colour: share published since {view.recent_since} (the last {settings.ui_recent_days} "
    f"days of the data; {overall:.0%} across the corpus)"
    if overall is not None
    else "colour: top-level branch (the papers have no publication dates)"
)
st.caption(
    f"{view.paper_count(root.id):,} papers in {len(view.topics):,} topics. Size: papers; "
    f"{colour}. Click a topic to drill down, the path above (treemap) or the centre "
    "(sunburst) to go back up. The Paper map shows the papers themselves."
)
# The treemap by default: its labels stay horizontal and large enough to read at the first two
# levels, where the sunburst's outer rings shrink and rotate them.
kind = st.segmented_control(
    "Chart", ["treemap", "sunburst"], default="treemap", label_visibility="collapsed"
)
st.plotly_chart(
    cache.map_figure(kind or "treemap"),
    key="map_chart",
    config={"displaylogo": False},
    theme=None,
)

left, right = st.columns([3, 2])
with left:
    st.subheader("Papers per month by top-level topic")
    if overall is None:
        st.info("No publication dates in the data, so no trend to draw.")
    else:
        st.plotly_chart(cache.trend_figure(), key="trend_chart", config={"displaylogo": False})
with right:
    if overall is not None:
        st.subheader("Fastest-growing topics")
        for topic, growth, n in data.fastest_growing(
            view, settings.ui_top_growing, settings.ui_growing_min_papers
        ):
            nav.topic_link(topic.id, f"{topic.label} · {growth:.0%} of {n} papers recent")
    st.subheader("Top-level topics")
    for tid in sorted(view.children.get(root.id, []), key=lambda t: -view.paper_count(t)):
        nav.topic_link(tid, f"{view.topics[tid].label} ({view.paper_count(tid):,})")
