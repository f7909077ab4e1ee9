"""`hierograph db start|stop|status`: the local Neo4j server."""

from __future__ import annotations

from hierograph.cli.common import console, db_app, fail, state


@db_app.command("start")
def db_start() -> None:
    """Start the local Neo4j (built from Maven Central on first use; data under <home>/neo4j).
    Its password is HIEROGRAPH_NEO4J_PASSWORD when set, else one generated for this home on
    the first start (<home>/neo4j/password, readable by you only)."""
    from hierograph.graph import neo4j_server
    from hierograph.graph.neo4j_password import neo4j_password

    s = state.settings
    try:
        pid = neo4j_server.start(
            s.home.resolve(),
            user=s.neo4j_user,
            password=neo4j_password(s, create=True),
            port=_bolt_port(s.neo4j_uri),
        )
    except neo4j_server.Neo4jServerError as e:
        fail(str(e))
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
