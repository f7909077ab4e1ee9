"""Provision and run a local Neo4j Community server built from Maven Central jars.

There is no Docker and no Neo4j tarball on the machines Hierograph targets, only Maven
Central, so the server is an embedded Neo4j DBMS with its Bolt connector switched on, wrapped
in a small Java launcher (``src/main/java/hierograph/Neo4jLauncher.java``). The first
``start()`` resolves the jars with Maven and compiles the launcher into a cache directory;
later starts reuse it and take seconds.

Layout under ``home``::

    neo4j/conf/neo4j.conf   written at every start
    neo4j/data/             the store; survives stop/start
    neo4j/logs/             Neo4j's logs, plus launcher.log (the JVM's stdout/stderr)
    neo4j/neo4j.pid         pid of the running JVM
    neo4j/neo4j.port        its Bolt port

POSIX only (signals, ``fcntl``, ``/proc``). Standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["NEO4J_VERSION", "Neo4jServerError", "build", "start", "status", "stop"]

_HERE = Path(__file__).resolve().parent
_POM = _HERE / "pom.xml"
_JAVA_SRC = _HERE / "src" / "main" / "java"
_MAIN_CLASS = "hierograph.Neo4jLauncher"
_READY_LINE = "HIEROGRAPH-NEO4J-READY"
_HOST = "127.0.0.1"
_LOG_ROTATE_BYTES = 10 * 1024 * 1024

# The pom is the single place the version is pinned.
_version_match = re.search(r"<neo4j\.version>([^<]+)<", _POM.read_text())
assert _version_match, f"no <neo4j.version> in {_POM}"
NEO4J_VERSION: str = _version_match.group(1)

_JVM_OPTS = [
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
    # Same opens as Neo4j's own neo4j.conf. Without them the page cache falls back to a slower
    # mode and native file calls fail with "Incorrect file descriptor" warnings.
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
]


class Neo4jServerError(RuntimeError):
    """The local Neo4j server could not be built, started or stopped."""


# --- paths -------------------------------------------------------------------------------


def _dirs(home: Path) -> dict[str, Path]:
    root = Path(home).expanduser().resolve() / "neo4j"
    return {
        "root": root,
        "data": root / "data",
        "logs": root / "logs",
        "conf": root / "conf" / "neo4j.conf",
        "log": root / "logs" / "launcher.log",
        "pid": root / "neo4j.pid",
        "port": root / "neo4j.port",
    }


def _cache_root() -> Path:
    env = os.environ.get("HIEROGRAPH_NEO4J_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "hierograph"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise concurrent callers (e.g. parallel test workers) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _build_key() -> str:
    digest = hashlib.sha256(_POM.read_bytes())
    for src in sorted(_JAVA_SRC.rglob("*.java")):
        digest.update(str(src.relative_to(_JAVA_SRC)).encode())
        digest.update(src.read_bytes())
    return digest.hexdigest()[:12]


# --- build -------------------------------------------------------------------------------


def _progress(msg: str) -> None:
    print(f"hierograph neo4j: {msg}", file=sys.stderr, flush=True)


def _run_tool(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()
        raise Neo4jServerError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            + "\n".join(out[-40:])
            + "\nCheck that Maven Central is reachable and ~/.m2/settings.xml is sane."
        )


def build() -> Path:
    """Resolve Neo4j's jars and compile the launcher once; return the build directory.

    The directory (``lib/`` with the jars, ``classes/`` with the launcher) is keyed on a hash
    of pom.xml and the Java sources, so editing either triggers a rebuild. Concurrent callers
    (parallel test workers) serialise on a lock file; the build is renamed into place only
    when complete, so a crash never leaves a half-built cache behind.
    """
    root = _cache_root()
    target = root / f"neo4j-{NEO4J_VERSION}-{_build_key()}"
    if (target / "BUILD-OK").is_file():
        return target
    with _locked(root / ".build.lock"):
        if (target / "BUILD-OK").is_file():
            return target
        for tool in ("mvn", "javac"):
            if shutil.which(tool) is None:
                raise Neo4jServerError(
                    f"`{tool}` is not on PATH; building the Neo4j launcher needs Maven and a "
                    "JDK 17 or 21 (Debian: apt-get install maven openjdk-17-jdk-headless)."
                )
        shutil.rmtree(target, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
        try:
            started = time.monotonic()
            shutil.copy(_POM, work / "pom.xml")
            _progress(
                f"building Neo4j {NEO4J_VERSION} launcher into {target} "
                "(first time downloads ~160 MB from Maven Central)..."
            )
            _run_tool(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "-Dstyle.color=never",
                    "-f",
                    str(work / "pom.xml"),
                    "dependency:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={work / 'lib'}",
                ],
                "Resolving Neo4j jars with Maven",
            )
            _progress(f"jars resolved in {time.monotonic() - started:.0f}s; compiling launcher...")
            sources = [str(p) for p in sorted(_JAVA_SRC.rglob("*.java"))]
            _run_tool(
                [
                    "javac",
                    "--release",
                    "17",
                    "-nowarn",
                    "-cp",
                    f"{work / 'lib'}/*",
                    "-d",
                    str(work / "classes"),
                    *sources,
                ],
                "Compiling the Neo4j launcher",
            )
            shutil.rmtree(work / "target", ignore_errors=True)
            (work / "BUILD-OK").write_text(f"{NEO4J_VERSION}\n")
            os.rename(work, target)
            _progress(f"build done in {time.monotonic() - started:.0f}s")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


# --- process helpers ---------------------------------------------------------------------


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0) (if its parent has not reaped it yet) but is gone for our
    # purposes. A JVM whose main thread has exited also shows "Z" while its other threads are
    # still shutting down, so it only counts as gone once no thread is left.
    proc = Path(f"/proc/{pid}")
    try:
        if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            return True
        return len(os.listdir(proc / "task")) > 1
    except (OSError, IndexError):
        # Without /proc (macOS) trust kill(0); with it, the process has just vanished.
        return not Path("/proc/self").exists()


def _spawn_detached(cmd: list[str], log: Path, cwd: Path, env: dict[str, str]) -> int:
    """Run ``cmd`` in a new session with output appended to ``log``; return its pid.

    A shell in between backgrounds it and exits, so the JVM is orphaned to init: no Python
    process is its parent, hence no zombie lingers after stop() (whichever process calls it)
    and no "subprocess still running" warning fires when the caller exits.
    """
    script = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'
    with open(log, "ab") as err:
        out = subprocess.run(
            ["/bin/sh", "-c", script, "sh", str(log), *cmd],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=cwd,
            env=env,
            start_new_session=True,
            check=True,
        )
    return int(out.stdout.decode().strip())


def _is_our_server(pid: int, home_root: Path) -> bool:
    """Guard against pid reuse: the pid must be our launcher for this very home."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    return _MAIN_CLASS.encode() in cmdline and str(home_root).encode() in cmdline


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _terminate(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10)
    except ProcessLookupError:
        pass


def _clear_state(d: dict[str, Path]) -> None:
    for key in ("pid", "port"):
        d[key].unlink(missing_ok=True)


def _log_tail(log: Path, since: int = 0, lines: int = 30) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(nothing logged)"


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return "java"


def _write_conf(d: dict[str, Path], port: int) -> None:
    d["conf"].parent.mkdir(parents=True, exist_ok=True)
    d["conf"].write_text(
        "# Written by hierograph.graph.neo4j_server at every start; edits are overwritten.\n"
        "dbms.security.auth_enabled=true\n"
        # Local, loopback-only dev server: let the caller pick any password.
        "dbms.security.auth_minimum_password_length=1\n"
        "server.bolt.enabled=true\n"
        f"server.bolt.listen_address={_HOST}:{port}\n"
        f"server.bolt.advertised_address={_HOST}:{port}\n"
        "server.http.enabled=false\n"
        "server.https.enabled=false\n"
        "server.memory.pagecache.size=256m\n"
        "dbms.usage_report.enabled=false\n"
        # Netty otherwise idles 5 s per event loop group before Bolt shuts down, making every
        # stop take ~10 s. Internal setting: if a Neo4j bump drops it, startup fails loudly.
        "internal.dbms.bolt.netty_server_shutdown_quiet_period=0\n"
    )


# --- public API --------------------------------------------------------------------------


def status(home: Path) -> dict[str, Any]:
    """Report on the server for ``home`` without changing anything.

    ``running`` is True once the JVM is alive and its Bolt port accepts connections; ``pid``
    and ``port`` are set whenever our JVM is alive (also while it is still starting).
    """
    d = _dirs(home)
    pid = _read_int(d["pid"])
    if pid is not None and not _is_our_server(pid, d["root"]):
        pid = None
    port = _read_int(d["port"]) if pid is not None else None
    return {
        "running": pid is not None and port is not None and _port_open(port),
        "pid": pid,
        "port": port,
        "data_dir": str(d["data"]),
        "log": str(d["log"]),
    }


def start(
    home: Path,
    *,
    user: str = "neo4j",
    password: str,
    port: int = 7687,
    timeout: float = 180.0,
) -> int:
    """Start (building first if needed) a Neo4j server for ``home``; return its pid.

    Listens on 127.0.0.1:``port`` with authentication on; ``user`` gets ``password`` with no
    "change required" (set at every start, so changing the password here takes effect). If
    the server for ``home`` is already up, its pid is returned and nothing is restarted.
    """
    if not password:
        raise Neo4jServerError("a non-empty Neo4j password is required")
    deadline = time.monotonic() + timeout
    with _locked(_dirs(home)["root"] / ".lock"):
        return _start_locked(home, user, password, port, timeout, deadline)


def _start_locked(
    home: Path, user: str, password: str, port: int, timeout: float, deadline: float
) -> int:
    d = _dirs(home)

    current = status(home)
    if current["pid"] is not None:
        if current["port"] != port:
            raise Neo4jServerError(
                f"Neo4j for {d['root']} is already running on port {current['port']} "
                f"(pid {current['pid']}), not {port}; stop it first."
            )
        while not _port_open(port):  # another caller is still starting it
            if time.monotonic() >= deadline or not _alive(current["pid"]):
                raise Neo4jServerError(
                    f"Neo4j (pid {current['pid']}) never opened port {port}.\n"
                    f"Last lines of {d['log']}:\n{_log_tail(d['log'])}"
                )
            time.sleep(0.25)
        return int(current["pid"])
    _clear_state(d)  # stale pid file, if any

    if _port_open(port):
        raise Neo4jServerError(
            f"port {port} on {_HOST} is already in use by another process; pick another port "
            f"or stop it (`ss -ltnp | grep :{port}`)."
        )

    build_dir = build()
    for key in ("data", "logs"):
        d[key].mkdir(parents=True, exist_ok=True)
    _write_conf(d, port)

    cmd = [
        _java(),
        *_JVM_OPTS,
        *os.environ.get("HIEROGRAPH_NEO4J_JAVA_OPTS", "").split(),
        "-cp",
        f"{build_dir / 'classes'}{os.pathsep}{build_dir / 'lib'}/*",
        _MAIN_CLASS,
        str(d["root"]),
        str(d["conf"]),
        user,
    ]
    if shutil.which(cmd[0]) is None:
        raise Neo4jServerError(
            f"{cmd[0]!r} not found; put a Java 17 or 21 runtime on PATH or set JAVA_HOME."
        )
    env = {**os.environ, "HIEROGRAPH_NEO4J_PASSWORD": password}
    if d["log"].is_file() and d["log"].stat().st_size > _LOG_ROTATE_BYTES:
        os.replace(d["log"], d["log"].with_name(d["log"].name + ".1"))
    with open(d["log"], "ab") as log:
        log.write(
            f"\n=== hierograph: starting Neo4j {NEO4J_VERSION} on {_HOST}:{port} "
            f"at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode()
        )
        offset = log.tell()
    pid = _spawn_detached(cmd, d["log"], d["root"], env)
    d["pid"].write_text(f"{pid}\n")
    d["port"].write_text(f"{port}\n")

    def fail(reason: str) -> Neo4jServerError:
        _terminate(pid, 30)
        _clear_state(d)
        return Neo4jServerError(
            f"Neo4j {NEO4J_VERSION} failed to start: {reason}.\n"
            f"Last lines of {d['log']}:\n{_log_tail(d['log'], since=offset)}\n"
            f"Check: `{cmd[0]} -version` reports 17 or 21; port {port} is free; "
            f"{d['root']} is writable and not used by another Neo4j."
        )

    while True:
        if not _alive(pid):
            raise fail("the JVM exited")
        with open(d["log"], "rb") as f:
            f.seek(offset)
            ready = _READY_LINE.encode() in f.read()
        if ready and _port_open(port):
            return pid
        if time.monotonic() >= deadline:
            raise fail(f"not ready after {timeout:.0f}s")
        time.sleep(0.25)


def stop(home: Path, timeout: float = 60.0) -> bool:
    """Stop the server for ``home``: SIGTERM (clean shutdown), SIGKILL after ``timeout``.

    Returns True if a server was running and has been stopped; a stale pid file is removed.
    """
    d = _dirs(home)
    with _locked(d["root"] / ".lock"):
        pid = _read_int(d["pid"])
        if pid is None or not _is_our_server(pid, d["root"]):
            _clear_state(d)
            return False
        _terminate(pid, timeout)
        if _alive(pid):
            raise Neo4jServerError(f"Neo4j (pid {pid}) survived SIGKILL; see {d['log']}")
        _clear_state(d)
        return True
