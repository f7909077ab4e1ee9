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
) -> None:
    """Embed all papers, cluster them into a topic tree, label it and store it."""
    from hierograph.hierarchy.build import BuildError, build_hierarchy

    with _open_store() as store:
        try:
            report = build_hierarchy(store, state.settings, show_progress=not quiet)
        except BuildError as e:
            _fail(str(e))
    console.print(
        f"built {report.topics} topics ({report.leaves} leaves, {report.depth} levels below the "
        f"root) over {report.papers} papers; embedded {report.embedded}, "
        f"{report.cached} from cache"
    )


@app.command()
def show(
    depth: Annotated[int, typer.Option(min=0, help="Levels below the root to print.")] = 3,
    papers: Annotated[int, typer.Option(min=0, help="Titles to list under each leaf.")] = 0,
    ids: Annotated[bool, typer.Option(help="Print topic ids.")] = False,
) -> None:
    """Print the topic tree with paper counts."""
    with _open_store() as store:
        topics = store.topics()
        if not topics:
            _fail("no topic tree yet: run `hierograph ingest PATH…` then `hierograph build`.")
        children: dict[str | None, list] = {}
        for t in topics:
            children.setdefault(t.parent, []).append(t)
        titles = {}
        if papers:
            titles = {p.id: p.title for p in store.iter_papers()}

        def grow(branch: Tree, topic, level: int) -> None:
            for child in sorted(children.get(topic.id, []), key=lambda t: (-t.size, t.id)):
                node = branch.add(_topic_line(child, ids))
                if level + 1 < depth:
                    grow(node, child, level + 1)
                if papers and not children.get(child.id):
                    for a in store.assignments(topic_id=child.id)[:papers]:
                        node.add(f"[dim]{titles.get(a.paper_id, a.paper_id)}[/dim]")

        root = children[None][0]
        tree = Tree(_topic_line(root, ids))
        if depth:
            grow(tree, root, 0)
        console.print(tree)


def _topic_line(topic, ids: bool) -> str:  # noqa: ANN001
    suffix = f" [dim]{topic.id}[/dim]" if ids else ""
    return f"[bold]{topic.label}[/bold] ({topic.size}){suffix}"


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


if __name__ == "__main__":
    app()
