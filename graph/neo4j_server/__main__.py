"""`python -m hierograph.graph.neo4j_server start|stop|status --home DIR [...]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import Neo4jServerError, start, status, stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hierograph.graph.neo4j_server")
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--user", default="neo4j")
    parser.add_argument(
        "--password",
        default=os.environ.get("NEO4J_PASSWORD"),
        help="defaults to $NEO4J_PASSWORD",
    )
    parser.add_argument("--port", type=int, default=7687)
    parser.add_argument("--timeout", type=float, default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            if not args.password:
                parser.error("start needs --password (or $NEO4J_PASSWORD)")
            pid = start(
                args.home,
                user=args.user,
                password=args.password,
                port=args.port,
                timeout=args.timeout or 180.0,
            )
            print(f"Neo4j running on bolt://127.0.0.1:{args.port} (pid {pid})")
        elif args.command == "stop":
            stopped = stop(args.home, timeout=args.timeout or 60.0)
            print("Neo4j stopped" if stopped else "Neo4j was not running")
        else:
            print(json.dumps(status(args.home), indent=2))
    except Neo4jServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
