"""The `hierograph` command. Each command parses its arguments and calls one library function;
the commands live in one module per capability and register on the one Typer app, in the order
`--help` lists them."""

# isort: off
from hierograph.cli import tree, db, curation, sources, methods, agent  # noqa: F401 - registers
from hierograph.cli.common import app, flow_help

# isort: on

flow_help(app)

__all__ = ["app"]
