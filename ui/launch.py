"""`hierograph ui`: run the Streamlit app on the configured store, passing Streamlit's own
options (`--server.port 8502 --server.headless true`) through."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from hierograph.settings import Settings

APP = Path(__file__).resolve().parent / "app.py"
# Streamlit phones home with usage statistics unless told not to, shows developer menus
# ("Deploy") and listens on every interface; a local research tool wants none of that, so it
# listens on loopback only. An explicit option of the same name wins (--server.address 0.0.0.0).
DEFAULTS = {
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    "server.address": "127.0.0.1",
}
_OPTION = re.compile(r"^--[a-zA-Z]+\.[a-zA-Z.]+(=.*)?$")


class LaunchError(ValueError):
    """Arguments that are not Streamlit options; the message says what is expected."""


def streamlit_command(args: Sequence[str]) -> list[str]:
    """`python -m streamlit run ui/app.py` with the defaults the user did not override."""
    given = {a[2:].split("=", 1)[0] for a in args if a.startswith("--")}
    for a in args:
        if a.startswith("-") and not _OPTION.match(a):
            raise LaunchError(
                f"{a!r} is not a Streamlit option; pass them as --section.option VALUE, e.g. "
                "--server.port 8502 --server.headless true (`streamlit run --help` lists them)"
            )
    extra = [f"--{k}={v}" for k, v in DEFAULTS.items() if k not in given]
    return [sys.executable, "-m", "streamlit", "run", str(APP), *extra, *args]


def app_environment(settings: Settings) -> dict[str, str]:
    """The app re-reads the settings in its own process: hand it this run's home and store
    (from --home/--store as much as from the environment)."""
    env = dict(os.environ)
    env["HIEROGRAPH_HOME"] = str(settings.home.resolve())
    env["HIEROGRAPH_STORE"] = settings.store
    return env


def run_app(settings: Settings, args: Sequence[str]) -> None:
    """Replace this process with the Streamlit server, so signals and the pid are its own."""
    command = streamlit_command(args)
    os.execve(command[0], command, app_environment(settings))
