"""`ingest`, `build`, `show`, `export`, `eval` and `sync`: the main job and looking at its tree."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.tree import Tree

from hierograph.cli.common import app, console, fail, open_store_or_fail, state


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files: a saved HF papers page (.txt), JSONL (.jsonl) or CSV (.csv) records."
        ),
    ],
) -> None:
    """Read papers into the store; bad records go to <home>/rejects.jsonl."""
    from hierograph.ingest.pipeline import IngestError, ingest_paths

    with open_store_or_fail() as store:
        try:
            report = ingest_paths(store, paths, state.settings.rejects_path())
        except IngestError as e:
            fail(str(e))
    console.print(report.summary())
    if report.rejected:
        console.print(f"rejected records and reasons: {state.settings.rejects_path()}")


@app.command()
def build(
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            help="Cluster from scratch instead of seeding splits with the stored "
            "tree (topic ids are still matched by paper overlap)."
        ),
    ] = False,
    llm: Annotated[
        str | None,
        typer.Option(
            help="litellm model for topic names (e.g. openai/gpt-4o-mini; key from "
            "the provider's usual env var), or 'none' for phrase labels. "
            "Default: settings.llm ('none')."
        ),
    ] = None,
) -> None:
    """Embed all papers, cluster them into a topic tree, label it and store it."""
    from hierograph.jobs.build import BuildError, build_hierarchy

    if llm is not None:
        state.settings = state.settings.model_copy(update={"llm": llm})
    if fresh:
        state.settings = state.settings.model_copy(update={"guided_rebuild": False})
    with open_store_or_fail() as store:
        try:
            report = build_hierarchy(store, state.settings, show_progress=not quiet)
        except BuildError as e:
            fail(str(e))
    console.print(
        f"built {report.topics} topics ({report.leaves} leaves, {report.depth} levels below the "
        f"root) over {report.papers} papers; embedded {report.embedded}, "
        f"{report.cached} from cache; {report.multi_labeled} papers also in a second topic; "
        f"topic ids: {report.ids.kept} kept ({report.ids.relabeled} relabeled), "
        f"{report.ids.new} new, {report.ids.retired} retired"
    )
    if report.mapped:
        console.print(f"paper map: {report.mapped} papers laid out (`hierograph plot`)")
    if report.llm:
        console.print(report.llm)
    if report.refined:
        console.print(report.refined)
    if report.corrections is not None and report.corrections.items:
        console.print(report.corrections.summary(), soft_wrap=True)
        if report.corrections.not_applied:
            console.print("what to do about each: hierograph correct log", soft_wrap=True)


@app.command()
def show(
    depth: Annotated[int, typer.Option(min=0, help="Levels below the root to print.")] = 3,
    papers: Annotated[int, typer.Option(min=0, help="Titles to list under each leaf.")] = 0,
    ids: Annotated[
        bool, typer.Option(help="Print topic ids, and paper ids beside titles (--papers).")
    ] = False,
    facet: Annotated[
        str | None,
        typer.Option(
            help="Show counts of a facet per topic: contribution, modality, problem, technique."
        ),
    ] = None,
    summaries: Annotated[
        bool,
        typer.Option(
            help="Print each topic's problem / method / results sentences (LLM-named trees)."
        ),
    ] = False,
) -> None:
    """Print the topic tree with paper counts."""
    from rich.markup import escape

    from hierograph.hierarchy.facets import facet_counts

    with open_store_or_fail() as store:
        topics = store.topics()
        if not topics:
            fail("no topic tree yet: run `hierograph ingest PATH…` then `hierograph build`.")
        facet_note = {}
        if facet:
            values = store.facets(dimension=facet)
            if not values:
                fail(f"no facet {facet!r} stored: try contribution or modality, or rebuild.")
            for t in topics:
                top = facet_counts(values, store.subtree_paper_ids(t.id), facet)[:4]
                facet_note[t.id] = " [dim]· " + ", ".join(f"{v} {n}" for v, n in top) + "[/dim]"
        children: dict[str | None, list] = {}
        for t in topics:
            children.setdefault(t.parent, []).append(t)
        titles = {}
        if papers:
            titles = {p.id: p.title for p in store.iter_papers()}

        def grow(branch: Tree, topic, level: int) -> None:
            for child in sorted(children.get(topic.id, []), key=lambda t: (-t.size, t.id)):
                node = branch.add(_topic_line(child, ids, facet_note.get(child.id, ""), summaries))
                if level + 1 < depth:
                    grow(node, child, level + 1)
                if papers and not children.get(child.id):
                    for a in store.assignments(topic_id=child.id)[:papers]:
                        title = escape(titles.get(a.paper_id, a.paper_id))
                        pid = f" [cyan]{a.paper_id}[/cyan]" if ids else ""
                        node.add(f"[dim]{title}[/dim]{pid}")

        root = children[None][0]
        tree = Tree(_topic_line(root, ids, facet_note.get(root.id, ""), summaries))
        if depth:
            grow(tree, root, 0)
        console.print(tree)


def _topic_line(topic, ids: bool, note: str = "", summaries: bool = False) -> str:  # noqa: ANN001
    suffix = f" [dim]{topic.id}[/dim]" if ids else ""
    line = f"[bold]{topic.label}[/bold] ({topic.size}){suffix}{note}"
    if summaries:
        from rich.markup import escape

        # LLM text may hold brackets: escaped, so it is never read as rich markup.
        for field in ("problem", "method", "results"):
            if text := getattr(topic, field, ""):
                line += f"\n[dim]{field}: {escape(text)}[/dim]"
    return line


class ExportFormat(StrEnum):
    json = "json"
    graphml = "graphml"
    bibtex = "bibtex"
    csl_json = "csl-json"


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    format: Annotated[
        ExportFormat,
        typer.Option(
            help="json (the whole graph, a documented contract), graphml, or references for "
            "Zotero and LaTeX: bibtex, csl-json."
        ),
    ] = ExportFormat.json,
    topic: Annotated[
        str | None,
        typer.Option(help="bibtex/csl-json: the papers of this topic and its subtree."),
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="bibtex/csl-json: the papers a search for Q finds.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Search results kept (--query).")] = 50,
    json_version: Annotated[
        int, typer.Option(min=1, max=2, help="JSON contract version: 2 (default) or 1.")
    ] = 2,
) -> None:
    """Write the whole graph (json, graphml), or papers as references (bibtex, csl-json: all
    papers, a topic's subtree with --topic, or search results with --query)."""
    from hierograph.graph import export as exports

    references = format in (ExportFormat.bibtex, ExportFormat.csl_json)
    if not references and (topic or query):
        fail("--topic and --query select references: use them with --format bibtex or csl-json.")
    if topic and query:
        fail("give --topic or --query, not both.")
    with open_store_or_fail() as store:
        if format is ExportFormat.json:
            data = exports.export_dict(store, json_version)
            out.write_text(json.dumps(data, indent=1, ensure_ascii=False))
        elif format is ExportFormat.graphml:
            exports.write_graphml(store, out)
        else:
            refs = exports.references(store, _selected(store, topic, query, limit))
            if not refs:
                fail("no papers selected: check the topic id (`hierograph show --ids`) or query.")
            if format is ExportFormat.bibtex:
                from hierograph.graph.bibtex import to_bibtex

                out.write_text(to_bibtex(refs), encoding="utf-8")
            else:
                from hierograph.graph.csl_json import to_csl_json

                text = json.dumps(to_csl_json(refs), indent=1, ensure_ascii=False)
                out.write_text(text, encoding="utf-8")
            console.print(f"{len(refs)} references")
    console.print(f"wrote {out}")


def _selected(store, topic: str | None, query: str | None, limit: int) -> list[str]:  # noqa: ANN001
    """Paper ids to export: a topic's subtree (by id), a search's hits (by rank), or all."""
    if topic:
        if store.get_topic(topic) is None:
            fail(f"no topic {topic!r} in the current tree; `hierograph show --ids` lists them.")
        return sorted(store.subtree_paper_ids(topic))
    if query:
        import threading

        from hierograph.api.context import ApiContext
        from hierograph.api.queries import QueryError, search_papers
        from hierograph.jobs.components import make_embedder

        embedder = make_embedder(state.settings, show_progress=False)
        embedder.cache_path = None  # a query is a one-off text: not for the papers' cache
        ctx = ApiContext(
            settings=state.settings, store=store, embedder=embedder, lock=threading.RLock()
        )
        try:
            page = search_papers(ctx, query, limit=limit)
        except QueryError as e:
            fail(str(e))
        return [hit.id for hit in page.results]
    return [p.id for p in store.iter_papers()]


@app.command()
def plot(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("map.html"),
) -> None:
    """Draw the paper map: every paper where its embedding lies (computed at build), coloured
    by top-level topic, with the first two levels' labels; hover shows titles, a click opens
    the paper. One self-contained HTML file (plotly inlined) that opens offline."""
    from hierograph.ui.paper_map import load_paper_map, paper_map_figure, write_map_html

    with open_store_or_fail() as store:
        if store.root() is None:
            fail("no topic tree yet: run `hierograph ingest PATH…` then `hierograph build`.")
        paper_map = load_paper_map(store)
        if not paper_map.points:
            fail("no paper map yet: run `hierograph build` (with map_layout on) to lay it out.")
        write_map_html(paper_map_figure(paper_map), str(out))
    console.print(f"wrote {out} ({len(paper_map.points):,} papers)")


@app.command("eval")
def eval_tree(
    gold: Annotated[
        Path | None,
        typer.Option(help='Gold JSONL: {"arxiv_id" or "id", "title", "category_path": [...]}.'),
    ] = None,
    gold_depth: Annotated[int, typer.Option(min=1, help="Gold path elements compared.")] = 1,
    details: Annotated[
        bool, typer.Option(help="With --gold: the label fit of every gold category.")
    ] = False,
) -> None:
    """Score the tree: AMI/NMI/ARI/V-measure per level against gold categories, purity, label
    fit (do the topics' names match the gold categories' names?), and figures that need no gold
    (topic sizes, sibling label distinctness, paper-label coherence)."""
    from rich.table import Table

    from hierograph.hierarchy.evaluate import (
        GoldError,
        evaluate,
        intrinsic_scores,
        label_fit,
        load_gold,
        size_distribution,
    )
    from hierograph.jobs.components import make_embedder

    with open_store_or_fail() as store:
        if not store.topics():
            fail("no topic tree yet: run `hierograph build` first.")
        embedder = make_embedder(state.settings, show_progress=False)
        sibling, coherence = intrinsic_scores(store, embedder.encode)
        sizes = size_distribution(store.topics())
        table = Table(title="Topic sizes per level")
        for column in ("level", "topics", "min", "median", "max"):
            table.add_column(column, justify="right")
        for level, row in sizes.items():
            table.add_row(str(level), *(f"{row[k]:g}" for k in ("topics", "min", "median", "max")))
        console.print(table)
        console.print(
            f"sibling label similarity (lower = more distinct): {sibling:.3f}\n"
            f"paper-label coherence (higher = better): {coherence:.3f}"
        )
        if gold is None:
            return
        try:
            records = load_gold(gold)
            report = evaluate(store, records, gold_depth)
            fit = label_fit(store, records, embedder.encode, gold_depth)
        except (GoldError, OSError) as e:
            fail(str(e))
    table = Table(
        title=f"Agreement with {gold.name} ({report.matched} papers, "
        f"{report.gold_categories} categories)"
    )
    for column in ("level", "topics", "AMI", "NMI", "ARI", "V"):
        table.add_column(column, justify="right")
    for s in report.levels:
        mark = " *" if s.level == report.best_level else ""
        table.add_row(
            f"{s.level}{mark}",
            str(s.topics),
            *(f"{x:.3f}" for x in (s.ami, s.nmi, s.ari, s.v_measure)),
        )
    console.print(table)
    console.print(
        f"best level: {report.best_level} (by AMI)\n"
        f"leaf purity {report.leaf_purity:.3f}, inverse purity {report.inverse_purity:.3f}\n"
        f"gold categories held mostly by one subtree: {report.one_subtree_share:.1%}\n"
        f"label fit (cosine of gold category names with the labels of their best-overlapping "
        f"topics, size-weighted, {len(fit.categories)} categories of 5+ papers): {fit.score:.3f}"
    )
    if details:
        fits = Table(title="Label fit per gold category")
        for column in ("category", "papers", "best topic", "F1", "cosine"):
            fits.add_column(
                column, justify="left" if column in ("category", "best topic") else "right"
            )
        for f in sorted(fit.categories, key=lambda f: -f.papers):
            fits.add_row(f.category, str(f.papers), f.topic_label, f"{f.f1:.2f}", f"{f.cosine:.2f}")
        console.print(fits)


@app.command()
def sync(
    source: Annotated[str, typer.Option("--from", help="sqlite or neo4j")],
    target: Annotated[str, typer.Option("--to", help="sqlite or neo4j")],
) -> None:
    """Copy the whole graph (papers, embeddings, tree, corrections, meta) between stores."""
    from hierograph.graph.sync import copy_graph

    if source == target:
        fail("--from and --to name the same store.")
    with open_store_or_fail(source) as src, open_store_or_fail(target) as dst:
        counts = copy_graph(src, dst)
    console.print(", ".join(f"{n} {what}" for what, n in counts.items()) + f" copied to {target}")
