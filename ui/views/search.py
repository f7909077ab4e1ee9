"""Search: one box, hybrid (semantic + full text, fused), filtered by date, topic and code.
The ranking is the agent API's own (`api.queries.search_papers`), so both answer alike."""

from __future__ import annotations

from datetime import date

import streamlit as st

from hierograph.ui import cache, data, nav

settings = cache.settings()
view = cache.tree()

st.title("Search")
query = st.text_input(
    "Search papers",
    value=st.query_params.get("q", ""),
    placeholder="e.g. reward hacking in RLHF",
)
dates = sorted(p.published for p in view.papers.values() if p.published)
lo = date.fromisoformat(dates[0]) if dates else None
hi = date.fromisoformat(dates[-1]) if dates else None
c1, c2, c3, c4 = st.columns([2, 3, 1, 1])
span = c1.date_input("Published", value=(lo, hi) if lo else (), min_value=lo, max_value=hi)
ordered = [t.id for t in view.ordered_topics()]
topic = c2.selectbox(
    "Within topic",
    [None, *ordered[1:]],
    format_func=lambda t: "anywhere" if t is None else view.path_label(t),
)
has_code = c3.checkbox("Has code")
order = c4.selectbox("Sort by", data.SORTS)

if query.strip():
    from hierograph.api.queries import InvalidInput, SearchFilters, search_papers

    st.query_params["q"] = query.strip()
    start, end = data.date_span(span)
    filters = SearchFilters(
        published_from=start, published_to=end, topic=topic, has_code=True if has_code else None
    )
    with st.spinner("Searching…"):
        try:
            page = search_papers(
                cache.api_context(), query.strip(), filters, limit=settings.ui_search_results
            )
        except InvalidInput as e:
            st.error(e.message)
            st.stop()
    how = "semantic and full-text scores fused"
    if order != "relevance":
        how = f"the best {len(page.results)} by relevance, sorted by {order}"
    st.caption(f"{len(page.results)} results · {how}")
    for hit in data.sort_hits(page.results, view.papers, order):
        brief = view.papers.get(hit.id)
        with st.container(border=True):
            nav.paper_link(hit.id, f"**{hit.title}**")
            facts = [
                brief.published if brief else None,
                "code" if brief and brief.has_code else None,
                f"▲ {brief.upvotes}" if brief and brief.upvotes is not None else None,
            ]
            st.caption(" · ".join(x for x in [*facts, f"score {hit.score:.4f}"] if x))
            for path in hit.topic_paths:
                labels = [t.label for t in path[1:]] or [t.label for t in path]
                st.caption("↳ " + data.PATH_SEPARATOR.join(labels))
