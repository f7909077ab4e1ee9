"""`link`, `methods`, `code`, `reproduce` and `links check`: concept → code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.tree import Tree

from hierograph.cli.common import app, console, fail, open_store_or_fail, state

links_app = typer.Typer(help="Code repository links: check that they still answer.")
app.add_typer(links_app, name="links")


def _registry():  # noqa: ANN202
    from hierograph.methods.registry import RegistryError, load_registry

    try:
        return load_registry(state.settings.methods_registry)
    except RegistryError as e:
        fail(str(e))


@app.command()
def link() -> None:
    """Link papers and topics to the method registry's methods, and papers to their code."""
    from hierograph.methods.link import link_methods

    registry = _registry()
    s = state.settings
    with open_store_or_fail() as store:
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
    with open_store_or_fail() as store:
        if not store.methods():
            fail("no methods in the store: run `hierograph link` (or `hierograph build`).")
        answer = store.code_for(concept)
    if not answer.methods:
        fail(f"no method or topic matches {concept!r}; `hierograph methods` lists the methods.")
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
        fail(str(e))
    for r in recipes:
        console.print(f"wrote {r.path} ({r.entry})")
    for install in dict.fromkeys(r.install for r in recipes):
        console.print(f"install: {install}")
    console.print(f"run: python {recipes[0].path} [STEPS]")


@links_app.command("check")
def links_check(
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Visit every repository URL (HEAD, else GET), record status and time, list dead links.
    Only 404/410 is dead; an unreachable link is unknown and keeps its last verdict."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from hierograph.methods.linkcheck import LinkChecker, check_links, urls_to_check

    s = state.settings
    checker = LinkChecker(
        concurrency=s.link_check_concurrency,
        attempts=s.link_check_attempts,
        backoff_seconds=s.link_check_backoff_seconds,
        timeout_seconds=s.link_check_timeout_seconds,
    )
    with open_store_or_fail() as store:
        total = len(urls_to_check(store))
        if not total:
            fail("no repository URLs yet: run `hierograph link` (or `hierograph build`).")
        with Progress(
            TextColumn("checking links"), BarColumn(), MofNCompleteColumn(), disable=quiet
        ) as progress:
            task = progress.add_task("links", total=total)
            report = check_links(store, checker, on_done=lambda _: progress.advance(task))
    for r in report.dead:
        console.print(f"[red]dead[/red] {r.url} {r.status or ''}".rstrip())
    for r in report.unknown:
        console.print(f"[yellow]unknown[/yellow] {r.url} ({r.error}); not marked dead")
    unknown = (
        f", {len(report.unknown)} unknown (unreachable or no verdict)" if report.unknown else ""
    )
    console.print(f"{len(report.checked)} links checked, {len(report.dead)} dead{unknown}")
    if report.dead:
        raise typer.Exit(1)


# --- agent API: REST, MCP, the tree finder (issue 7) ---
