"""The Neo4j password: the user's (HIEROGRAPH_NEO4J_PASSWORD) when set, else the local
server's own, generated once per home by the first `hierograph db start` and kept in
`<home>/neo4j/password` (mode 0600). No password is built in, so no two homes share one."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hierograph.graph.store import StoreError
from hierograph.settings import Settings


def password_file(home: Path) -> Path:
    """Where the local server's generated password lives."""
    return Path(home).expanduser().resolve() / "neo4j" / "password"


def _create(path: Path) -> str:
    """A new random password written with 0600 permissions (never wider, even for a moment);
    if another process created the file first, that one wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(password + "\n")
    return password


def neo4j_password(settings: Settings, create: bool = False) -> str:
    """The password to use: the configured one, else the home's generated one (created here
    when `create`, as `db start` does). Raises StoreError saying what to do when neither."""
    if settings.neo4j_password is not None and settings.neo4j_password.get_secret_value():
        return settings.neo4j_password.get_secret_value()
    path = password_file(settings.home)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    if create:
        return _create(path)
    raise StoreError(
        f"no Neo4j password: run `hierograph db start` to start the local server (it creates "
        f"one in {path}), or set HIEROGRAPH_NEO4J_PASSWORD for your own server."
    )
