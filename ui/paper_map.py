"""The paper map: every paper at its 2-D layout position (hierarchy/layout.py), coloured by
its top-level topic, with the labels of the first two levels of the tree at the middle of
their papers. Hover shows a paper's title and topic path; a click opens the paper.

Drawn with plotly: the points as one WebGL `Scattergl` trace per top-level topic (tens of
thousands of points stay smooth), the labels as SVG text (crisp, with a halo). Plotly is
already the browser's chart library, Streamlit shows its figures natively, and
`write_html(include_plotlyjs=True)` makes one file that opens offline. No Streamlit here, so
`hierograph plot` and the browser page share it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go

from hierograph.graph.citation import landing_url
from hierograph.graph.store import GraphStore

# Colours of the top-level topics (plotly's "Bold" and "Safe" qualitative palettes).
PALETTE = [
    "#7F3C8D", "#11A579", "#3969AC", "#F2B701", "#E73F74", "#80BA5A", "#E68310", "#008695",
    "#CF1C90", "#f97b72", "#4b4b8f", "#88CCEE", "#CC6677", "#DDCC77", "#117733", "#332288",
]  # fmt: skip
UNPLACED = "not in the tree yet"


@dataclass
class MapPoint:
    id: str
    x: float
    y: float
    title: str
    url: str | None
    path: list[str]  # topic ids, level 1 first (empty when the paper sits in no topic)


@dataclass
class PaperMap:
    """What the map draws, read from the store once."""

    points: list[MapPoint]
    labels: dict[str, str]  # topic id -> label (levels 1 and 2)
    levels: dict[str, int] = field(default_factory=dict)

    def path_text(self, point: MapPoint) -> str:
        return " › ".join(self.labels.get(t, t) for t in point.path) or UNPLACED


def load_paper_map(store: GraphStore) -> PaperMap:
    """Papers with coordinates, each with its best-scored topic's first two ancestors."""
    coords = store.layout()
    topics = {t.id: t for t in store.topics()}
    best: dict[str, tuple[float, str]] = {}
    for a in store.assignments():
        if a.topic_id in topics and (a.paper_id not in best or a.score > best[a.paper_id][0]):
            best[a.paper_id] = (a.score, a.topic_id)
    paths: dict[str, list[str]] = {}

    def path_of(topic_id: str) -> list[str]:
        if topic_id not in paths:
            chain, node = [], topics.get(topic_id)
            while node is not None and node.parent is not None:
                chain.append(node.id)
                node = topics.get(node.parent)
            paths[topic_id] = [t for t in reversed(chain) if topics[t].level <= 2]
        return paths[topic_id]

    points = [
        MapPoint(
            id=p.id,
            x=coords[p.id][0],
            y=coords[p.id][1],
            title=p.title,
            url=landing_url(p),
            path=path_of(best[p.id][1]) if p.id in best else [],
        )
        for p in store.iter_papers()
        if p.id in coords
    ]
    shown = {t for point in points for t in point.path}
    return PaperMap(
        points=points,
        labels={t: topics[t].label for t in shown},
        levels={t: topics[t].level for t in shown},
    )


def centres(
    paper_map: PaperMap, level: int, min_papers: int = 1
) -> list[tuple[str, float, float, int]]:
    """(topic id, x, y, papers) of the topics of `level`: the median of their papers'
    positions, which a few outlying papers do not drag off the group."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p in paper_map.points:
        if len(p.path) >= level:
            groups[p.path[level - 1]].append((p.x, p.y))
    out = []
    for tid, xy in sorted(groups.items()):
        if len(xy) >= min_papers:
            mx, my = np.median(np.asarray(xy), axis=0)
            out.append((tid, float(mx), float(my), len(xy)))
    return out


def paper_map_figure(
    paper_map: PaperMap, link: str = "url", height: int = 780, label_min_papers: int = 3
) -> go.Figure:
    """The map. `link`: what a click opens, carried as each point's first customdata field:
    "url" (the paper's arXiv or source page) or "id" (the paper id, for the browser's Paper
    page). Level-2 labels of topics with fewer than `label_min_papers` mapped papers are left
    out, so small topics do not bury the map in text."""
    by_top: dict[str, list[MapPoint]] = defaultdict(list)
    for p in paper_map.points:
        by_top[p.path[0] if p.path else ""].append(p)
    order = sorted(by_top, key=lambda t: (-len(by_top[t]), t))
    size = 7 if len(paper_map.points) < 500 else 4 if len(paper_map.points) < 5000 else 3
    fig = go.Figure()
    for i, top in enumerate(order):
        pts = by_top[top]
        fig.add_trace(
            go.Scattergl(
                x=[p.x for p in pts],
                y=[p.y for p in pts],
                mode="markers",
                name=paper_map.labels.get(top, UNPLACED),
                marker=dict(size=size, color=PALETTE[i % len(PALETTE)] if top else "#9e9e9e",
                            opacity=0.65),
                customdata=[
                    [(p.url or "") if link == "url" else p.id, p.title, paper_map.path_text(p)]
                    for p in pts
                ],
                hovertemplate="<b>%{customdata[1]}</b><br>%{customdata[2]}<extra></extra>",
            )
        )  # fmt: skip
    xs = [p.x for p in paper_map.points] or [0.0]
    left, width = min(xs), (max(xs) - min(xs)) or 1.0
    for level, font in ((2, dict(size=12, color="#333333")), (1, dict(size=17, color="#000000"))):
        found = centres(paper_map, level, label_min_papers if level == 2 else 1)
        if not found:
            continue
        # Labels near an edge grow inwards, so none runs off the chart.
        where = [(c[1] - left) / width for c in found]
        anchor = [
            "middle right" if w < 0.25 else "middle left" if w > 0.75 else "middle center"
            for w in where
        ]
        fig.add_trace(
            go.Scatter(
                x=[c[1] for c in found],
                y=[c[2] for c in found],
                mode="text",
                textposition=anchor,
                text=[
                    (f"<b>{paper_map.labels[c[0]]}</b>" if level == 1 else paper_map.labels[c[0]])
                    for c in found
                ],
                textfont=dict(family="Arial, sans-serif", shadow="auto", **font),
                hoverinfo="skip",
                cliponaxis=False,  # a label wider than its group still shows whole
                showlegend=False,
                name=f"level {level} labels",
            )
        )
    pad = width * 0.05  # room for labels at the edges  # room for labels at the edges
    fig.update_layout(
        height=height,
        margin=dict(t=10, l=10, r=10, b=10),
        xaxis=dict(visible=False, range=[left - pad, left + width + pad]),
        yaxis=dict(visible=False, scaleanchor="x"),
        plot_bgcolor="white",
        hovermode="closest",
        legend=dict(
            itemsizing="constant",
            orientation="h",
            yanchor="top",
            y=0,
            title=dict(text="top-level topics:"),
        ),
        dragmode="pan",
    )
    return fig


# Opens the clicked paper's page in a new tab (the standalone HTML file of `hierograph plot`).
CLICK_SCRIPT = """
var plot = document.getElementById('{plot_id}');
plot.on('plotly_click', function (event) {
  var point = event.points && event.points[0];
  var url = point && point.customdata && point.customdata[0];
  if (url) { window.open(url, '_blank', 'noopener'); }
});
"""


def write_map_html(fig: go.Figure, out: str, title: str = "Hierograph paper map") -> None:
    """One self-contained file: plotly.js inlined, so it opens offline."""
    fig.update_layout(title=dict(text=title, x=0.01), margin=dict(t=40))
    fig.write_html(
        out,
        include_plotlyjs=True,
        full_html=True,
        post_script=CLICK_SCRIPT,
        config={"displaylogo": False, "scrollZoom": True},
    )
