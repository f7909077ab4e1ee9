"""Plotly figures of the tree: the hierarchy map (sunburst or treemap) and the trend chart."""

from __future__ import annotations

from typing import Literal

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

MapKind = Literal["sunburst", "treemap"]
# Diverging: topics growing faster than the corpus turn red, slower ones blue.
GROWTH_SCALE = "RdBu_r"


def hierarchy_figure(
    frame: pd.DataFrame, kind: MapKind, max_depth: int, midpoint: float | None, recent_days: int
) -> go.Figure:
    """Every topic sized by its papers and coloured by growth; plotly drills down on click.
    `midpoint` None means the data has no dates: plotly's own colours then tell branches apart."""
    growth = dict(
        colors=frame["growth"],
        colorscale=GROWTH_SCALE,
        cmid=midpoint,
        colorbar=dict(title=dict(text=f"share of papers<br>in the last {recent_days} d")),
    )
    when = f"%{{customdata[1]:.0%}} published in the last {recent_days} days<br>"
    common = dict(
        ids=frame["id"],
        parents=frame["parent"],
        labels=frame["label"],
        values=frame["weight"],
        branchvalues="total",
        maxdepth=max_depth,
        customdata=frame[["papers", "growth", "keywords"]].to_numpy(),
        hovertemplate="<b>%{label}</b><br>%{customdata[0]} papers<br>"
        + (when if midpoint is not None else "")
        + "%{customdata[2]}<extra></extra>",
        marker=growth if midpoint is not None else None,
    )
    trace = (
        go.Sunburst(insidetextorientation="radial", **common)
        if kind == "sunburst"
        else go.Treemap(
            tiling=dict(pad=3),
            # Labels at the tiles' top left, never shrunk below a readable size (plotly hides
            # a label that does not fit rather than shrinking it further).
            textposition="top left",
            textfont=dict(size=15),
            insidetextfont=dict(size=15),
            pathbar=dict(visible=True, thickness=24),
            **common,
        )
    )
    fig = go.Figure(trace)
    fig.update_layout(
        margin=dict(t=10, l=10, r=10, b=10), height=720, uniformtext=dict(minsize=12, mode="hide")
    )
    return fig


def trend_figure(frame: pd.DataFrame) -> go.Figure:
    """Papers per month under each top-level topic, stacked."""
    fig = px.area(frame, x="month", y="papers", color="topic", line_shape="spline")
    fig.update_layout(
        margin=dict(t=10, l=10, r=10, b=10),
        height=380,
        legend=dict(title=None),
        xaxis_title=None,
        yaxis_title="papers per month",
    )
    return fig
