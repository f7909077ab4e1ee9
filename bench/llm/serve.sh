#!/usr/bin/env bash
# bench/llm/serve.sh MODEL.gguf [PORT]   start llama_cpp.server on 127.0.0.1 in the background,
#                                        wait for /v1/models
# bench/llm/serve.sh stop [PORT]         stop the server started by this script on PORT
#
# Env: VENV (default .llm/venv), N_CTX (4096), N_THREADS (default: llama.cpp's choice = nproc),
#      NICE (default 10: the server's absolute niceness, whatever this script's own; it yields
#      the CPU to interactive work on a shared machine without starving behind its caller's),
#      ALIAS (model id served in /v1/models; default: file name without .gguf),
#      LOGFILE (default /tmp/llm-server-PORT.log), WAIT_S (default 180).
# litellm: model="openai/$ALIAS", api_base="http://127.0.0.1:PORT/v1", api_key="sk-local"
# (Hierograph: HIEROGRAPH_LLM=openai/$ALIAS HIEROGRAPH_LLM_API_BASE=http://127.0.0.1:PORT/v1)
set -euo pipefail
VENV="${VENV:-.llm/venv}"

if [ "${1:-}" = stop ]; then
  PORT="${2:-8088}"; PIDFILE="/tmp/llm-server-$PORT.pid"
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    pid=$(cat "$PIDFILE"); kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "serve.sh: stopped pid $pid"
  else
    echo "serve.sh: no running server for port $PORT"
  fi
  rm -f "$PIDFILE"; exit 0
fi

MODEL="${1:?usage: serve.sh MODEL.gguf [PORT] | serve.sh stop [PORT]}"
PORT="${2:-8088}"
[ -f "$MODEL" ] || { echo "serve.sh: no such model file $MODEL" >&2; exit 1; }
ALIAS="${ALIAS:-$(basename "$MODEL" .gguf)}"
LOGFILE="${LOGFILE:-/tmp/llm-server-$PORT.log}"
PIDFILE="/tmp/llm-server-$PORT.pid"
WAIT_S="${WAIT_S:-180}"
URL="http://127.0.0.1:$PORT/v1/models"

probe() { "$VENV/bin/python" -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).read()" "$URL" 2>/dev/null; }

if probe; then echo "serve.sh: something already answers on $URL" >&2; exit 1; fi

EXTRA=()
[ -n "${N_THREADS:-}" ] && EXTRA+=(--n_threads "$N_THREADS")
# OMP_WAIT_POLICY=PASSIVE: with the default busy-waiting OpenMP threads, generation was ~10x
# slower whenever anything else used the CPU.
# nice is relative: started from a niced `make bench-llm` the server would land at 19 and starve.
DELTA=$(( ${NICE:-10} - $(nice) )); [ "$DELTA" -lt 0 ] && DELTA=0
OMP_WAIT_POLICY=PASSIVE nohup nice -n "$DELTA" "$VENV/bin/python" -m llama_cpp.server \
  --model "$MODEL" --model_alias "$ALIAS" \
  --host 127.0.0.1 --port "$PORT" --n_ctx "${N_CTX:-4096}" "${EXTRA[@]}" \
  >"$LOGFILE" 2>&1 &
pid=$!
echo "$pid" >"$PIDFILE"

start=$(date +%s)
until probe; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "serve.sh: server exited during start-up; last log lines:" >&2; tail -20 "$LOGFILE" >&2
    rm -f "$PIDFILE"; exit 1
  fi
  if [ $(( $(date +%s) - start )) -ge "$WAIT_S" ]; then
    echo "serve.sh: no answer from $URL after ${WAIT_S}s; stopping pid $pid" >&2
    kill "$pid"; rm -f "$PIDFILE"; exit 1
  fi
  sleep 1
done
echo "serve.sh: pid $pid ready in $(( $(date +%s) - start ))s at http://127.0.0.1:$PORT/v1 (model id '$ALIAS', log $LOGFILE)"
