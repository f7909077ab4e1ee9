"""Latency under concurrency: 8 clients (threads, each with one keep-alive connection: the
standard library's http.client by default, httpx with `--client httpx`) send requests back to
back to a warm `hierograph serve` over a built home, and the p50/p99 of `GET /papers/search`
and `POST /find` (the default strategy) are reported, with the CPU the server and the clients
spent per request (they share the machine's cores). Queries are the find sets' descriptions,
each sent once in the whole run (the two endpoints get different ones), so no answer comes
from the server's query-embedding cache.

The server is started here on a free port with the home given and the per-IP rate limit
lifted (all clients share 127.0.0.1), warmed with a few requests, and stopped at the end.
Writes bench/out/find_latency.json and bench/out/find_latency.html and prints a rich table.

    HIEROGRAPH_HOME=/tmp/bench-home python bench/bench_find_latency.py --requests 240
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

OUT = Path(__file__).parent / "out"
DATA = Path(__file__).parent / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        HIEROGRAPH_HOME=str(home),
        HIEROGRAPH_API_RATE_PER_SECOND="100000",
        HIEROGRAPH_API_RATE_BURST="100000",
    )
    exe = Path(sys.executable).with_name("hierograph")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("hierograph serve exited during start-up; run it by hand to see why")
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("hierograph serve did not answer /healthz within 300 s")


class StdlibClient:
    """A keep-alive HTTP/1.1 connection from the standard library: about 0.3 ms of CPU per
    request against httpx's 1.4 ms. The clients share the two cores with the server, so a
    lighter client leaves less of the measuring in the measurement."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def request(self, method: str, target: str, body: bytes | None = None) -> tuple[int, str]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, target, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")

    def close(self) -> None:
        self.conn.close()


class HttpxClient:
    """httpx, as an agent written in Python would call the API."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)

    def request(self, method: str, target: str, body: bytes | None = None) -> tuple[int, str]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        r = self.http.request(method, target, content=body, headers=headers)
        return r.status_code, r.text

    def close(self) -> None:
        self.http.close()


CLIENTS = {"stdlib": StdlibClient, "httpx": HttpxClient}


def hammer(
    url: str, endpoint: str, texts: list[str], clients: int, kind: str = "stdlib"
) -> list[float]:
    """Latencies (s) of one request per text, sent by `clients` threads back to back."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(texts)
    errors: list[str] = []

    def worker() -> None:
        client = CLIENTS[kind](url)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    text = queue.pop()
                start = time.perf_counter()
                if endpoint == "/find":
                    body = json.dumps({"description": text, "k": 5}).encode()
                    status, answer = client.request("POST", "/find", body)
                else:
                    query = urllib.parse.urlencode({"q": text, "limit": 10})
                    status, answer = client.request("GET", f"/papers/search?{query}")
                took = time.perf_counter() - start
                with lock:
                    latencies.append(took)
                    if status != 200:
                        errors.append(f"{status} {answer[:200]}")
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, first: {errors[0]}")
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), to tell the server's share of
    the two cores from the clients' (they run on the same machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--home", type=Path, default=Path(os.environ.get("HIEROGRAPH_HOME", ".")))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=240, help="per endpoint")
    ap.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="stdlib",
        help="HTTP client of the 8 threads (stdlib: lightest on the shared cores)",
    )
    args = ap.parse_args()
    texts = []
    for name in ("find-realistic.jsonl", "find-keyword.jsonl"):
        if (DATA / name).exists():
            texts += [json.loads(x)["description"] for x in (DATA / name).open() if x.strip()]
    texts = list(dict.fromkeys(texts))
    if len(texts) < 2 * args.requests:
        raise SystemExit(
            f"only {len(texts)} distinct descriptions: ask for at most {len(texts) // 2}"
        )
    batches = {
        "/papers/search": texts[: args.requests],
        "/find": texts[args.requests : 2 * args.requests],
    }
    port = free_port()
    started = time.perf_counter()
    proc = start_server(args.home, port)
    start_s = time.perf_counter() - started
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        with httpx.Client(base_url=url, timeout=120) as http:  # warm: model, tree index, FTS
            for text in ("warm up the model", "preference optimization"):
                http.post("/find", json={"description": text})
                http.get("/papers/search", params={"q": text})
        for endpoint in ("/papers/search", "/find"):
            load = os.getloadavg()
            t0 = time.perf_counter()
            server0, client0 = cpu_seconds(proc.pid), time.process_time()
            lat = (
                np.array(hammer(url, endpoint, batches[endpoint], args.clients, args.client)) * 1000
            )
            wall = time.perf_counter() - t0
            server_cpu = cpu_seconds(proc.pid) - server0
            client_cpu = time.process_time() - client0
            rows.append(
                {
                    "endpoint": endpoint,
                    "requests": len(lat),
                    "clients": args.clients,
                    "client": args.client,
                    "p50_ms": float(np.percentile(lat, 50)),
                    "p99_ms": float(np.percentile(lat, 99)),
                    "mean_ms": float(lat.mean()),
                    "throughput_rps": len(lat) / wall,
                    "server_cpu_ms_per_request": 1000 * server_cpu / len(lat),
                    "client_cpu_ms_per_request": 1000 * client_cpu / len(lat),
                    "load_average_before": load,
                    "load_average_after": os.getloadavg(),
                    "latencies_ms": lat.round(2).tolist(),
                }
            )
    finally:
        proc.terminate()
        proc.wait(30)
    table = Table(
        title=f"Latency, {args.clients} concurrent clients (server start {start_s:.0f} s)"
    )
    cols = ("endpoint", "requests", "p50 ms", "p99 ms", "mean ms", "req/s")
    cols += ("server CPU ms/req", "client CPU ms/req", "load (1 min)")
    for col in cols:
        table.add_column(col, justify="left" if col == "endpoint" else "right")
    for r in rows:
        table.add_row(
            r["endpoint"],
            str(r["requests"]),
            f"{r['p50_ms']:.0f}",
            f"{r['p99_ms']:.0f}",
            f"{r['mean_ms']:.0f}",
            f"{r['throughput_rps']:.1f}",
            f"{r['server_cpu_ms_per_request']:.1f}",
            f"{r['client_cpu_ms_per_request']:.1f}",
            f"{r['load_average_before'][0]:.1f} → {r['load_average_after'][0]:.1f}",
        )
    Console().print(table)
    OUT.mkdir(exist_ok=True)
    (OUT / "find_latency.json").write_text(json.dumps({"server_start_s": start_s, "rows": rows}))
    import plotly.graph_objects as go

    fig = go.Figure([go.Histogram(x=r["latencies_ms"], name=r["endpoint"]) for r in rows])
    fig.update_layout(barmode="overlay", xaxis_title="latency (ms)", title="Request latency")
    fig.write_html(OUT / "find_latency.html")
    print(f"wrote {OUT / 'find_latency.json'} and {OUT / 'find_latency.html'}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
