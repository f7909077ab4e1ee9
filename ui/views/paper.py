"""Paper: the record, its links, where it sits in the tree, its methods, similar papers."""

from __future__ import annotations

import streamlit as st

from hierograph.ui import cache, data, nav

settings = cache.settings()
view = cache.tree()

wanted = st.query_params.get("paper", "")
typed = st.text_input("Paper id or arXiv id", value=wanted, placeholder="e.g. 2501.01234")
paper_id = typed.strip()
if not paper_id:
    st.info("Open a paper from a Topic or Search page, or type its id above.")
    st.stop()
if paper_id != wanted:
    st.query_params["paper"] = paper_id
paper = cache.paper(paper_id)
if paper is None:
    st.error(f"No paper {paper_id!r} in the store. Search finds papers by their words.")
    st.stop()

st.title(paper.title)
meta = [", ".join(paper.authors) if paper.authors else "authors unknown"]
if paper.published:
    meta.append(paper.published[:10])
if paper.primary_category or paper.categories:
    meta.append(paper.primary_category or ", ".join(paper.categories))
if paper.upvotes is not None:
    meta.append(f"▲ {paper.upvotes} upvotes on Hugging Face")
st.caption(" · ".join(meta))
st.code(paper.id, language=None)  # the id `hierograph correct` and the API take; copyable

links = data.arxiv_links(paper.arxiv_id)
code = list(dict.fromkeys([*paper.code_urls, *([paper.github_repo] if paper.github_repo else [])]))
buttons = [*links.items(), *((f"Code: {u.split('://')[-1]}", u) for u in code)]
if paper.project_page:
    buttons.append(("Project page", paper.project_page))
if paper.url and paper.url not in links.values() and paper.url != paper.project_page:
    buttons.append(("Source", paper.url))
cols = st.columns(max(len(buttons), 1))
for col, (label, url) in zip(cols, buttons, strict=False):
    col.link_button(label, url)

st.write(paper.abstract)
if summary := paper.current_summary():
    st.markdown(
        f"- **Problem:** {summary.problem}\n- **Method:** {summary.method}\n"
        f"- **Results:** {summary.results}"
    )

st.subheader("In the tree")
paths = data.paper_paths(view, paper.id)
if not paths:
    st.caption("Not placed in the current tree yet.")
for a, label in paths:
    nav.topic_link(a.topic_id, f"{label} · score {a.score:.3f} ({a.origin})")

methods = {m.id: m for m in cache.methods()}
links_ = cache.handle().read(lambda s: s.method_links(paper_id=paper.id))
if links_:
    st.subheader("Methods")
    for link in links_:
        m = methods.get(link.method_id)
        name = m.name if m else link.method_id
        verb = "proposes" if link.relation == "PROPOSES" else "uses"
        st.page_link(
            nav.page("code"), label=f"{verb} {name}", query_params={"method": link.method_id}
        )

st.subheader("Similar papers")
similar = cache.similar(paper.id, settings.ui_similar_papers)
if not similar:
    st.caption("This paper has no embedding yet (run `hierograph build`).")
for pid, score in similar:
    brief = view.papers.get(pid)
    nav.paper_link(pid, f"{brief.title if brief else pid} · {score:.2f}")
