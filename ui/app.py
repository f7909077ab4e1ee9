"""The Streamlit entry point (`hierograph ui` runs it): page setup, navigation, sidebar."""

from __future__ import annotations

import streamlit as st

from hierograph.graph.store import StoreError
from hierograph.ui import cache, nav

st.set_page_config(page_title="Hierograph", page_icon=":material/hub:", layout="wide")
settings = cache.settings()
pages = nav.make_pages(settings)
st.session_state["hierograph_pages"] = pages
current = st.navigation(list(pages.values()))

with st.sidebar:
    try:
        handle = cache.handle()
        view = cache.tree()
    except StoreError as e:
        st.error(str(e))
        st.stop()
    where = settings.db_path() if settings.store == "sqlite" else settings.neo4j_uri
    st.caption(f"{settings.store} · {where}")
    st.caption(f"{len(view.papers):,} papers · {len(view.topics):,} topics")
nav.editor_gate(settings)

if view.root is None:
    st.title("Hierograph")
    st.info("No topic tree yet: run `hierograph ingest PATH…` and `hierograph build` first.")
    st.stop()
current.run()
