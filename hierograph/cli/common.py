"""What every command module shares: the Typer app, the consoles, the settings of this run, and
the way a command fails."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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


def flowed(doc: str) -> str:
    """A docstring as `--help` should show it: the line breaks of the source (wrapped at 100
    columns) joined, so rich wraps each paragraph to the terminal instead of breaking it
    mid-sentence; blank lines, list items and indented lines keep their breaks."""
    out: list[str] = []
    for line in inspect.cleandoc(doc).splitlines():
        keeps = not line.strip() or line[:1].isspace() or re.match(r"(-|\*|\d+\.) ", line)
        if out and out[-1].strip() and not keeps:
            out[-1] = f"{out[-1]} {line.strip()}"
        else:
            out.append(line)
    return "\n".join(out)


def flow_help(typer_app: typer.Typer) -> None:
    """Give every command of `typer_app` (and of the groups under it) its flowed docstring as
    help, unless it sets one itself."""
    for info in typer_app.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            info.help = flowed(info.callback.__doc__)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            flow_help(group.typer_instance)


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
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="Let libraries print their own progress bars, banners and hints."
        ),
    ] = False,
) -> None:
    from hierograph.noise import set_verbose

    set_verbose(verbose)
    state.settings = load_settings(home=home, store=store)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def open_store_or_fail(kind: str | None = None):  # noqa: ANN202
    from hierograph.graph.factory import open_store
    from hierograph.graph.store import StoreError

    try:
        return open_store(state.settings, kind)
    except StoreError as e:
        fail(str(e))
