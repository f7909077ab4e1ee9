"""Paper map: every paper where its embedding lies, coloured by top-level topic, labelled at
the first two levels; hover for titles, click a paper to open its page."""

from __future__ import annotations

import streamlit as st

from hierograph.ui import cache, nav

st.title("Paper map")
figure, count = cache.paper_map()
if not count:
    st.info(
        "No paper map yet: `hierograph build` lays the papers out (setting `map_layout`), "
        "and `hierograph refresh` adds new papers to it."
    )
    st.stop()
st.caption(
    f"{count:,} papers placed by their embeddings (UMAP): near means similar. Colour: top-level "
    "topic; bold labels name the top level, plain ones the level below. Hover for titles, "
    "click a paper to open it; scroll to zoom, drag to pan."
)
event = st.plotly_chart(
    figure,
    key="paper_map",
    on_select="rerun",
    selection_mode="points",
    config={"displaylogo": False, "scrollZoom": True},
    theme=None,
)
points = event.selection.points if event else []
picked = next((p["customdata"][0] for p in points if p.get("customdata")), None)
if picked:
    st.switch_page(nav.page("paper"), query_params={"paper": picked})
