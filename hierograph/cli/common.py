"""What every command module shares: the Typer app, the consoles, the settings of this run, and
the way a command fails."""

from __future__ import annotations

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
