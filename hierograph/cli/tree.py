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
            "the provider's usual env var), or 'none' for keyword labels. "
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
    if report.llm:
        console.print(report.llm)
    if report.refined:
        console.print(report.refined)


@app.command()
def show(
    depth: Annotated[int, typer.Option(min=0, help="Levels below the root to print.")] = 3,
    papers: Annotated[int, typer.Option(min=0, help="Titles to list under each leaf.")] = 0,
    ids: Annotated[bool, typer.Option(help="Print topic ids.")] = False,
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
                        node.add(f"[dim]{titles.get(a.paper_id, a.paper_id)}[/dim]")

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


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    format: Annotated[ExportFormat, typer.Option(help="json (documented contract) or graphml.")] = (
        ExportFormat.json
    ),
) -> None:
    """Write the whole graph (papers, topics, assignments) to a file."""
    from hierograph.graph.export import export_dict, write_graphml

    with open_store_or_fail() as store:
        if format is ExportFormat.json:
            out.write_text(json.dumps(export_dict(store), indent=1, ensure_ascii=False))
        else:
            write_graphml(store, out)
    console.print(f"wrote {out}")


@app.command("eval")
def eval_tree(
    gold: Annotated[
        Path | None,
        typer.Option(help='Gold JSONL: {"arxiv_id" or "id", "title", "category_path": [...]}.'),
    ] = None,
    gold_depth: Annotated[int, typer.Option(min=1, help="Gold path elements compared.")] = 1,
) -> None:
    """Score the tree: AMI/NMI/ARI/V-measure per level against gold categories, purity, and
    figures that need no gold (topic sizes, sibling label distinctness, paper-label coherence)."""
    from rich.table import Table

    from hierograph.hierarchy.evaluate import (
        GoldError,
        evaluate,
        intrinsic_scores,
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
            report = evaluate(store, load_gold(gold), gold_depth)
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
        f"gold categories held mostly by one subtree: {report.one_subtree_share:.1%}"
    )


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
