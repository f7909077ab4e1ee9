"""The `hierograph` command. Each command parses its arguments and calls one library function."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.tree import Tree

from hierograph.settings import Settings, load_settings

app = typer.Typer(
    help="Hierograph: organize research papers into a browsable, correctable topic tree.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Run the local Neo4j server that Hierograph provisions.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True, soft_wrap=True)


class State:
    settings: Settings


state = State()


@app.callback()
def main(
    home: Annotated[
        Path | None,
        typer.Option(
            help="State directory (database, caches, rejects, logs). "
            "Default: $HIEROGRAPH_HOME or ./.hierograph"
        ),
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="Store backend: sqlite (default) or neo4j.")
    ] = None,
) -> None:
    state.settings = load_settings(home=home, store=store)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _open_store(kind: str | None = None):  # noqa: ANN202
    from hierograph.graph.factory import open_store
    from hierograph.graph.store import StoreError

    try:
        return open_store(state.settings, kind)
    except StoreError as e:
        _fail(str(e))


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

    with _open_store() as store:
        try:
            report = ingest_paths(store, paths, state.settings.rejects_path())
        except IngestError as e:
            _fail(str(e))
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
    with _open_store() as store:
        try:
            report = build_hierarchy(store, state.settings, show_progress=not quiet)
        except BuildError as e:
            _fail(str(e))
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

    with _open_store() as store:
        topics = store.topics()
        if not topics:
            _fail("no topic tree yet: run `hierograph ingest PATH…` then `hierograph build`.")
        facet_note = {}
        if facet:
            values = store.facets(dimension=facet)
            if not values:
                _fail(f"no facet {facet!r} stored: try contribution or modality, or rebuild.")
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

    with _open_store() as store:
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
    """Score the tree: AMI/NMI/ARI per level against gold categories, purity, and figures that
    need no gold (topic sizes, sibling label distinctness, paper-label coherence)."""
    from rich.table import Table

    from hierograph.hierarchy.evaluate import (
        GoldError,
        evaluate,
        intrinsic_scores,
        load_gold,
        size_distribution,
    )
    from hierograph.jobs.components import make_embedder

    with _open_store() as store:
        if not store.topics():
            _fail("no topic tree yet: run `hierograph build` first.")
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
            _fail(str(e))
    table = Table(
        title=f"Agreement with {gold.name} ({report.matched} papers, "
        f"{report.gold_categories} categories)"
    )
    for column in ("level", "topics", "AMI", "NMI", "ARI"):
        table.add_column(column, justify="right")
    for s in report.levels:
        mark = " *" if s.level == report.best_level else ""
        table.add_row(
            f"{s.level}{mark}", str(s.topics), f"{s.ami:.3f}", f"{s.nmi:.3f}", f"{s.ari:.3f}"
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
        _fail("--from and --to name the same store.")
    with _open_store(source) as src, _open_store(target) as dst:
        counts = copy_graph(src, dst)
    console.print(", ".join(f"{n} {what}" for what, n in counts.items()) + f" copied to {target}")


@db_app.command("start")
def db_start() -> None:
    """Start the local Neo4j (built from Maven Central on first use; data under <home>/neo4j)."""
    from hierograph.graph import neo4j_server

    s = state.settings
    try:
        pid = neo4j_server.start(
            s.home.resolve(),
            user=s.neo4j_user,
            password=s.neo4j_password.get_secret_value(),
            port=_bolt_port(s.neo4j_uri),
        )
    except neo4j_server.Neo4jServerError as e:
        _fail(str(e))
    console.print(f"neo4j running (pid {pid}) at {s.neo4j_uri}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the local Neo4j by its process id."""
    from hierograph.graph import neo4j_server

    stopped = neo4j_server.stop(state.settings.home.resolve())
    console.print("neo4j stopped" if stopped else "neo4j was not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the local Neo4j runs, with its pid, port, data and log paths."""
    from hierograph.graph import neo4j_server

    console.print_json(data=neo4j_server.status(state.settings.home.resolve()))


def _bolt_port(uri: str) -> int:
    from urllib.parse import urlsplit

    return urlsplit(uri).port or 7687


# --- corrections, the corrector and the review queue (issue 5) ---
correct_app = typer.Typer(
    help="Correct the topic tree by hand. Every edit is logged, can be undone, and is replayed "
    "onto each rebuilt tree.",
    no_args_is_help=True,
)
corrector_app = typer.Typer(
    help="The corrector model: learns from corrections, re-scores assignments.",
    no_args_is_help=True,
)
app.add_typer(correct_app, name="correct")
app.add_typer(corrector_app, name="corrector")
ActorOption = Annotated[
    str | None, typer.Option(help="Who makes the edit (default: settings.correction_actor).")
]


def _correct(action, *args, actor: str | None = None, **kwargs) -> None:  # noqa: ANN001
    from hierograph.curation.corrections import CorrectionError

    with _open_store() as store:
        try:
            entry = action(store, *args, actor=actor or state.settings.correction_actor, **kwargs)
        except CorrectionError as e:
            _fail(str(e))
    console.print(
        f"correction #{entry.id} ({entry.kind}) applied; undo: hierograph correct undo {entry.id}",
        soft_wrap=True,
    )


@correct_app.command("move")
def correct_move(
    paper: Annotated[str, typer.Argument(help="Paper id.")],
    source: Annotated[str, typer.Option("--from", help="Topic id it leaves.")],
    target: Annotated[str, typer.Option("--to", help="Leaf topic id it joins.")],
    actor: ActorOption = None,
) -> None:
    """Move a paper from one topic to another."""
    from hierograph.curation.corrections import move_paper

    _correct(move_paper, paper, source, target, actor=actor)


@correct_app.command("add")
def correct_add(
    paper: Annotated[str, typer.Argument(help="Paper id.")],
    topic: Annotated[str, typer.Argument(help="Leaf topic id to add.")],
    actor: ActorOption = None,
) -> None:
    """Put a paper in a second (third, …) topic too."""
    from hierograph.curation.corrections import add_topic

    _correct(add_topic, paper, topic, actor=actor)


@correct_app.command("remove")
def correct_remove(
    paper: Annotated[str, typer.Argument(help="Paper id.")],
    topic: Annotated[str, typer.Argument(help="Topic id to take it out of.")],
    actor: ActorOption = None,
) -> None:
    """Take a paper out of one of its topics (not its only one: move it instead)."""
    from hierograph.curation.corrections import remove_assignment

    _correct(remove_assignment, paper, topic, actor=actor)


@correct_app.command("rename")
def correct_rename(
    topic: Annotated[str, typer.Argument(help="Topic id.")],
    label: Annotated[str, typer.Argument(help="New label.")],
    summary: Annotated[str | None, typer.Option(help="New summary.")] = None,
    actor: ActorOption = None,
) -> None:
    """Rename a topic (and optionally rewrite its summary)."""
    from hierograph.curation.corrections import rename_topic

    _correct(rename_topic, topic, label, summary=summary, actor=actor)


@correct_app.command("merge")
def correct_merge(
    source: Annotated[str, typer.Argument(help="Topic id that disappears.")],
    target: Annotated[str, typer.Argument(help="Topic id that takes its papers and subtopics.")],
    actor: ActorOption = None,
) -> None:
    """Merge one topic into another."""
    from hierograph.curation.corrections import merge_topics

    _correct(merge_topics, source, target, actor=actor)


@correct_app.command("split")
def correct_split(
    topic: Annotated[str, typer.Argument(help="Leaf topic id to split.")],
    papers: Annotated[list[str], typer.Argument(help="Ids of the papers that leave it.")],
    label: Annotated[str | None, typer.Option(help="Label of the new sibling topic.")] = None,
    actor: ActorOption = None,
) -> None:
    """Split a leaf: the named papers leave it for a new sibling topic."""
    from hierograph.curation.corrections import split_topic

    _correct(split_topic, topic, papers, label=label, actor=actor)


@correct_app.command("move-topic")
def correct_move_topic(
    topic: Annotated[str, typer.Argument(help="Topic id to move.")],
    parent: Annotated[str, typer.Argument(help="Its new parent topic id.")],
    actor: ActorOption = None,
) -> None:
    """Move a topic (with its subtree) under another parent."""
    from hierograph.curation.corrections import move_topic

    _correct(move_topic, topic, parent, actor=actor)


@correct_app.command("delete")
def correct_delete(
    topic: Annotated[str, typer.Argument(help="Id of an empty topic.")],
    actor: ActorOption = None,
) -> None:
    """Delete a topic that holds no papers and no subtopics."""
    from hierograph.curation.corrections import delete_topic

    _correct(delete_topic, topic, actor=actor)


@correct_app.command("undo")
def correct_undo(
    correction: Annotated[int, typer.Argument(help="Number of the correction to undo.")],
    actor: ActorOption = None,
) -> None:
    """Undo a correction: its inverse is applied and logged; the log keeps both."""
    from hierograph.curation.corrections import undo

    _correct(undo, correction, actor=actor)


@correct_app.command("log")
def correct_log(
    limit: Annotated[int, typer.Option(min=0, help="Latest entries to show (0: all).")] = 20,
) -> None:
    """List the corrections log, newest last, with the last replay's outcome."""
    from hierograph.curation.corrections import active_corrections, last_replay

    with _open_store() as store:
        entries = store.corrections()
        replay = last_replay(store)
    active = {c.id for c in active_corrections(entries)}
    status = {i.id: i for i in replay.items} if replay else {}
    for c in entries[-limit:] if limit else entries:
        target = c.payload.get("undoes")
        what = f"undoes #{target}" if target else _correction_target(c.payload)
        state_word = "" if c.kind == "undo" or c.id in active else " [undone]"
        replayed = status.get(c.id)
        note = f" [replay: {replayed.status} {replayed.detail}]" if replayed else ""
        line = f"#{c.id} {c.at} {c.actor} {c.kind} {what}{state_word}{note}"
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    if replay:
        console.print(f"last replay: {replay.summary()}", soft_wrap=True)


def _correction_target(payload: dict) -> str:
    parts = [payload.get("paper_id")] if payload.get("paper_id") else []
    for key in ("from", "to", "topic", "source", "target", "parent"):
        if isinstance(payload.get(key), dict):
            parts.append(f"{key}={payload[key]['id']}")
    if payload.get("label"):
        parts.append(repr(payload["label"]))
    return " ".join(parts)


def _embedder():  # noqa: ANN202
    from hierograph.jobs.components import make_embedder

    return make_embedder(state.settings, show_progress=False)


@corrector_app.command("train")
def corrector_train() -> None:
    """Train the corrector on the corrections log and the tree; saved under <home>/corrector/."""
    from hierograph.curation.corrector import CorrectorError, train_corrector

    with _open_store() as store:
        try:
            summary = train_corrector(store, state.settings, _embedder())
        except CorrectorError as e:
            _fail(str(e))
    console.print(
        f"trained {summary.model} corrector on {summary.pairs} pairs ({summary.positives} "
        f"positive, {summary.negatives} negative, {summary.human_pairs} from corrections); "
        f"training accuracy {summary.training_accuracy:.3f}; saved in "
        f"{state.settings.corrector_dir()}",
        soft_wrap=True,
    )


@corrector_app.command("apply")
def corrector_apply(
    accept: Annotated[
        bool,
        typer.Option(help="Also carry out the proposed moves and removals (default: propose)."),
    ] = False,
) -> None:
    """Re-score assignments, add likely second topics, flag unlikely ones, propose fixes."""
    from hierograph.curation.corrector import CorrectorError, apply_corrector

    with _open_store() as store:
        try:
            report = apply_corrector(store, state.settings, _embedder(), apply_proposals=accept)
        except CorrectorError as e:
            _fail(str(e))
    console.print(report.summary(), soft_wrap=True)
    console.print("least certain first: hierograph review")


@corrector_app.command("eval")
def corrector_eval(
    gold: Annotated[
        Path,
        typer.Option(help='JSONL: {"arxiv_id" or "id", "title", "category_path": [...]} a line.'),
    ],
    corrected_share: Annotated[
        float, typer.Option(help="Share of matched papers whose corrections are simulated.")
    ] = 0.1,
) -> None:
    """Assignment precision/recall/F1 before and after the corrector, on a gold file."""
    from hierograph.curation.corrector import CorrectorError, evaluate_corrector

    with _open_store() as store:
        try:
            r = evaluate_corrector(store, state.settings, _embedder(), gold, corrected_share)
        except CorrectorError as e:
            _fail(str(e))
    console.print(
        f"gold lines {r.gold_lines}, matched {r.matched}; corrections simulated on "
        f"{r.corrected_papers} papers ({r.corrections} corrections); scored on "
        f"{r.evaluated_papers} others",
        soft_wrap=True,
    )
    console.print(f"corrector: {r.apply.summary()}", soft_wrap=True)
    for name, s in (("before", r.before), ("after", r.after)):
        console.print(f"{name}: precision={s.precision:.3f} recall={s.recall:.3f} f1={s.f1:.3f}")
    console.print(f"F1 before={r.before.f1:.3f} after={r.after.f1:.3f}", highlight=False)


@app.command()
def review(
    limit: Annotated[int, typer.Option(min=1, help="How many to list.")] = 20,
) -> None:
    """The assignments the corrector is least sure of, most uncertain first."""
    from hierograph.curation.corrector import CorrectorError, review_queue

    with _open_store() as store:
        try:
            items = review_queue(store, limit)
        except CorrectorError as e:
            _fail(str(e))
        topics = {t.id: t.label for t in store.topics()}
        papers = {i.paper_id: store.get_paper(i.paper_id) for i in items}
    titles = {k: p.title if p else k for k, p in papers.items()}
    for i in items:
        line = (
            f"{i.probability:.2f} {i.paper_id} {titles[i.paper_id][:70]!r} in "
            f"{topics.get(i.topic_id, i.topic_id)} [{i.topic_id}]"
        )
        if i.proposed_topic:
            better = i.proposed_topic
            line += f" → proposed: {topics.get(better, better)} [{better}]"
        console.print(line, highlight=False, soft_wrap=True, markup=False)


# --- live sources and periodic refresh (issue 4) ---
@app.command()
def refresh(
    query: Annotated[
        list[str] | None,
        typer.Option(help="arXiv search query, e.g. 'abs:\"preference optimization\"'."),
    ] = None,
    category: Annotated[list[str] | None, typer.Option(help="arXiv category, e.g. cs.CL.")] = None,
    hf_daily: Annotated[
        bool | None, typer.Option("--hf-daily/--no-hf-daily", help="Read HF daily papers.")
    ] = None,
    hf_paper: Annotated[
        list[str] | None, typer.Option(help="Also read this arXiv id's Hugging Face page.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Last HF daily date to read, YYYY-MM-DD (default today).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Fetch what the watched sources published since the last refresh and place the new
    papers into the tree. --query/--category/--hf-daily replace the watch list in settings."""
    from datetime import date

    from hierograph.jobs.refresh import RefreshError, Watch, print_report, run_refresh

    day = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            _fail(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD.")
    watch = Watch.from_settings(state.settings, query, category, hf_daily, hf_paper or ())
    with _open_store() as store:
        try:
            report = run_refresh(store, state.settings, watch, as_of=day, show_progress=not quiet)
        except RefreshError as e:
            _fail(str(e))
    print_report(console, report)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def schedule(
    every_minutes: Annotated[
        int | None, typer.Option(min=1, help="Run every N minutes (default from settings).")
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option(help="Crontab expression, e.g. '0 6 * * *'; wins over the interval."),
    ] = None,
    now: Annotated[bool, typer.Option(help="Also run once right away.")] = True,
) -> None:
    """Run `refresh` on a schedule until stopped; logs go to <home>/logs/refresh.log."""
    from hierograph.jobs.schedule import ScheduleError, run_schedule

    s = state.settings
    try:
        run_schedule(
            s,
            every_minutes or s.schedule_every_minutes,
            cron or (None if every_minutes else s.schedule_cron),
            run_now=now,
        )
    except ScheduleError as e:
        _fail(str(e))


# --- methods, code links, link health, recipes (issue 6) ---
links_app = typer.Typer(help="Code repository links: check that they still answer.")
app.add_typer(links_app, name="links")


def _registry():  # noqa: ANN202
    from hierograph.methods.registry import RegistryError, load_registry

    try:
        return load_registry(state.settings.methods_registry)
    except RegistryError as e:
        _fail(str(e))


@app.command()
def link() -> None:
    """Link papers and topics to the method registry's methods, and papers to their code."""
    from hierograph.methods.link import link_methods

    registry = _registry()
    s = state.settings
    with _open_store() as store:
        report = link_methods(
            store,
            registry,
            about_per_topic=s.about_methods_per_topic,
            about_min_papers=s.about_min_papers,
        )
    console.print(report.summary(), soft_wrap=True)


@app.command()
def methods() -> None:
    """List the registry's methods with their ids (for `code` and `reproduce`)."""
    from hierograph.methods.reproduce import recipe_implementations

    for m in _registry().methods:
        recipe = " [green]recipe[/green]" if recipe_implementations(m) else ""
        aliases = f" [dim]({', '.join(m.aliases)})[/dim]" if m.aliases else ""
        console.print(f"[bold]{m.id}[/bold] {m.name}{aliases}{recipe}")


@app.command()
def code(
    concept: Annotated[str, typer.Argument(help="A method name or alias, or a topic label.")],
    papers: Annotated[int, typer.Option(min=0, help="Papers listed per method.")] = 5,
) -> None:
    """Print methods → papers → implementations (ranked, with URLs) for a concept."""
    with _open_store() as store:
        if not store.methods():
            _fail("no methods in the store: run `hierograph link` (or `hierograph build`).")
        answer = store.code_for(concept)
    if not answer.methods:
        _fail(f"no method or topic matches {concept!r}; `hierograph methods` lists the methods.")
    how = {
        "method": "a method",
        "topic": "a topic",
        "search": "methods and topics with these words",
    }
    tree = Tree(f"[bold]{concept}[/bold] [dim](matched {how[answer.matched]})[/dim]")
    for mc in answer.methods:
        m = mc.method
        paper = f" arXiv:{m.arxiv_id}" if m.arxiv_id else ""
        node = tree.add(f"[bold]{m.name}[/bold] [dim]{m.id}{paper}[/dim] — {m.description}")
        branch = node.add(f"papers ({len(mc.papers)})")
        for ref in mc.papers[:papers]:
            branch.add(f"[cyan]{ref.relation}[/cyan] {ref.title} [dim]{ref.paper_id}[/dim]")
        branch = node.add(f"implementations ({len(mc.implementations)})")
        for impl in mc.implementations:
            entry = f" [bold]{impl.entry}[/bold]" if impl.entry else ""
            opts = "".join(f" {k}={v!r}" for k, v in impl.options.items())
            since = f" since {impl.since}" if impl.since else ""
            until = f" [yellow]until {impl.until}[/yellow]" if impl.until else ""
            dead = " [red]dead link[/red]" if impl.ok is False else ""
            src = "" if impl.source == "registry" else f" [dim](code of {impl.source})[/dim]"
            line = f"{entry}{opts} {impl.url}{since}{until}{dead}{src}"
            branch.add(f"[magenta]{impl.rank}[/magenta]{line}")
    console.print(tree)


@app.command()
def reproduce(
    method: Annotated[str, typer.Argument(help="Method id, name or alias, e.g. dpo or KTO.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the recipe scripts.")],
) -> None:
    """Write a minimal runnable training script for each library implementation of METHOD."""
    from hierograph.methods.reproduce import ReproduceError, write_recipes

    try:
        recipes = write_recipes(_registry(), method, out)
    except ReproduceError as e:
        _fail(str(e))
    for r in recipes:
        console.print(f"wrote {r.path} ({r.entry})")
    for install in dict.fromkeys(r.install for r in recipes):
        console.print(f"install: {install}")
    console.print(f"run: python {recipes[0].path} [STEPS]")


@links_app.command("check")
def links_check(
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Visit every repository URL (HEAD, else GET), record status and time, list dead links."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from hierograph.methods.linkcheck import LinkChecker, check_links, urls_to_check

    s = state.settings
    checker = LinkChecker(
        concurrency=s.link_check_concurrency,
        attempts=s.link_check_attempts,
        backoff_seconds=s.link_check_backoff_seconds,
        timeout_seconds=s.link_check_timeout_seconds,
    )
    with _open_store() as store:
        total = len(urls_to_check(store))
        if not total:
            _fail("no repository URLs yet: run `hierograph link` (or `hierograph build`).")
        with Progress(
            TextColumn("checking links"), BarColumn(), MofNCompleteColumn(), disable=quiet
        ) as progress:
            task = progress.add_task("links", total=total)
            report = check_links(store, checker, on_done=lambda _: progress.advance(task))
    for r in report.dead:
        console.print(f"[red]dead[/red] {r.url} {r.status or ''} {r.error or ''}".rstrip())
    console.print(f"{len(report.checked)} links checked, {len(report.dead)} dead")
    if report.dead:
        raise typer.Exit(1)


# --- agent API: REST, MCP, the tree finder (issue 7) ---
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Run the REST API (OpenAPI at /docs); requests are logged to <home>/logs/api.log."""
    from hierograph.api.rest import serve as run_rest

    console.print(f"serving http://{host}:{port} (docs at /docs)")
    run_rest(state.settings, host, port)


class McpTransport(StrEnum):
    stdio = "stdio"
    streamable_http = "streamable-http"


@app.command()
def mcp(
    transport: Annotated[McpTransport, typer.Option(help="stdio or streamable-http.")] = (
        McpTransport.stdio
    ),
    host: Annotated[str, typer.Option(help="Interface (streamable-http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port (streamable-http).")] = 8001,
) -> None:
    """Run the MCP server (tools: search_papers, get_paper, browse_topic, find_paper,
    code_for_concept); streamable HTTP serves at /mcp."""
    from hierograph.api.mcp_server import run_mcp

    run_mcp(state.settings, transport.value, host, port)


@app.command()
def find(
    description: Annotated[str, typer.Argument(help="What the paper is about.")],
    k: Annotated[int, typer.Option(min=1, max=50, help="Papers to list.")] = 5,
    flat: Annotated[bool, typer.Option(help="Plain hybrid search instead of the tree.")] = False,
) -> None:
    """Find a paper from a description by walking the topic tree; prints the path taken."""
    from hierograph.api import queries
    from hierograph.api.context import api_context
    from hierograph.graph.store import StoreError

    try:
        with api_context(state.settings) as ctx:
            answer = queries.find(ctx, description, k, "flat" if flat else "tree")
    except (queries.QueryError, StoreError) as e:
        _fail(str(e))
    if answer.path:
        console.print(" › ".join(t.label for t in answer.path), highlight=False)
    for hit in answer.results:
        console.print(f"{hit.score:.3f} {hit.id} {hit.title}", highlight=False, markup=False)
    if not answer.results:
        _fail("nothing found: is there a built tree? (`hierograph build`)")


# --- the Streamlit browser (issue 8) ---
@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def ui(ctx: typer.Context) -> None:
    """Browse the tree in Streamlit (read-only unless settings.ui_editor_key is set). Streamlit's
    own options pass through: hierograph ui --server.port 8502 --server.headless true"""
    from hierograph.ui.launch import LaunchError, run_app, streamlit_command

    try:
        streamlit_command(ctx.args)
    except LaunchError as e:
        _fail(str(e))
    with _open_store():  # a store that cannot be opened fails here, with the store's message
        pass
    run_app(state.settings, ctx.args)


if __name__ == "__main__":
    app()
