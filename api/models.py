"""Request and response models of the agent API: the contract that REST, MCP and the OpenAPI
schema share. Input limits live here because they are part of the published schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hierograph.graph.method_models import CodeFor

# Limits every client sees in the schema; a longer value is a 422 with the field named.
MAX_QUERY_CHARS = 500
MAX_DESCRIPTION_CHARS = 4000
MAX_ID_CHARS = 200
MAX_LABEL_CHARS = 300
MAX_SUMMARY_CHARS = 2000
MAX_PAGE_SIZE = 50
MAX_K = 50
MAX_CURSOR_CHARS = 400
MAX_PAPER_IDS = 500

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. not_found.")
    message: str = Field(description="What went wrong and what to do about it.")
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class TopicRef(BaseModel):
    id: str
    label: str


class PaperHit(BaseModel):
    id: str
    title: str
    score: float = Field(description="Higher is better; fused score for search, cosine else.")


class SearchHit(PaperHit):
    topic_paths: list[list[TopicRef]] = Field(
        description="For each topic the paper sits in, the path root → … → topic."
    )


class SearchPage(BaseModel):
    results: list[SearchHit]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


class MethodRef(BaseModel):
    id: str
    name: str
    relation: Literal["PROPOSES", "USES"]


class PaperDetail(BaseModel):
    id: str
    title: str
    abstract: str
    authors: list[str]
    published: str | None
    arxiv_id: str | None
    url: str | None
    categories: list[str]
    topic_paths: list[list[TopicRef]]
    methods: list[MethodRef]
    code: list[str] = Field(description="Repository URLs of the paper's code.")
    similar: list[PaperHit]
    problem: str | None = Field(
        None, description="LLM summary: the research problem (null when not summarized)."
    )
    method: str | None = Field(None, description="LLM summary: the method or solution.")
    results: str | None = Field(None, description="LLM summary: the results.")


class ChildTopic(BaseModel):
    id: str
    label: str
    size: int = Field(description="Papers in the child's subtree.")
    leaf: bool


class TopicMethodRef(BaseModel):
    id: str
    name: str
    score: float


class TopicDetail(BaseModel):
    id: str
    label: str
    summary: str
    keywords: list[str]
    level: int
    size: int
    path: list[TopicRef] = Field(description="Root → … → this topic.")
    children: list[ChildTopic]
    top_papers: list[PaperHit] = Field(description="Best-placed papers by assignment score.")
    methods: list[TopicMethodRef]
    problem: str = Field("", description="What the topic's papers try to solve (LLM; may be '').")
    method: str = Field("", description="How they solve it (LLM; may be '').")
    results: str = Field("", description="What they find (LLM; may be '').")


class MethodPaper(BaseModel):
    id: str
    title: str
    relation: Literal["PROPOSES", "USES"]


class MethodDetail(BaseModel):
    id: str
    name: str
    aliases: list[str]
    description: str
    arxiv_id: str | None
    papers: list[MethodPaper]
    paper_count: int
    topics: list[TopicRef]
    implementations: list[dict[str, Any]]


class CodeAnswer(CodeFor):
    """`store.code_for(concept)`, with each method's paper list cut to the requested size."""


FindStrategy = Literal["hybrid", "tree", "flat"]


class FindRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(
        min_length=3,
        max_length=MAX_DESCRIPTION_CHARS,
        description="What the paper is about, in your own words.",
    )
    k: int = Field(5, ge=1, le=MAX_K, description="Papers to return.")
    strategy: FindStrategy = Field(
        "hybrid",
        description="hybrid (default, the best measured): vector + full-text candidates "
        "re-ranked with their topics; tree: navigate the topic tree from the root; flat: plain "
        "hybrid search.",
    )


class FindResponse(BaseModel):
    results: list[SearchHit] = Field(
        description="Best first; every hit carries all its topic paths (root → topic)."
    )
    path: list[TopicRef] = Field(
        description="Root → leaf: the route taken (tree), the best hit's best-matching topic "
        "(hybrid), empty for flat."
    )
    strategy: FindStrategy
    steps: int = Field(description="Ranking rounds: tree levels descended, or 1 for hybrid/flat.")


class Health(BaseModel):
    status: Literal["ok"]
    store: str
    papers: int
    topics: int


# --- corrections (the one write route) ---


class _Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = Field(None, max_length=100, description="Default: settings actor.")


class MovePaper(_Correction):
    kind: Literal["move_paper"]
    paper_id: Id
    from_topic: Id
    to_topic: Id


class AddTopic(_Correction):
    kind: Literal["add_topic"]
    paper_id: Id
    topic_id: Id


class RemoveAssignment(_Correction):
    kind: Literal["remove_assignment"]
    paper_id: Id
    topic_id: Id


class RenameTopic(_Correction):
    kind: Literal["rename_topic"]
    topic_id: Id
    label: str = Field(min_length=1, max_length=MAX_LABEL_CHARS)
    summary: str | None = Field(None, max_length=MAX_SUMMARY_CHARS)


class MergeTopics(_Correction):
    kind: Literal["merge_topics"]
    source: Id
    target: Id


class SplitTopic(_Correction):
    kind: Literal["split_topic"]
    topic_id: Id
    paper_ids: list[Id] = Field(min_length=1, max_length=MAX_PAPER_IDS)
    label: str | None = Field(None, min_length=1, max_length=MAX_LABEL_CHARS)


class MoveTopic(_Correction):
    kind: Literal["move_topic"]
    topic_id: Id
    new_parent: Id


class DeleteTopic(_Correction):
    kind: Literal["delete_topic"]
    topic_id: Id


class Undo(_Correction):
    kind: Literal["undo"]
    correction_id: int = Field(ge=1, le=2**53)


CorrectionRequest = Annotated[
    MovePaper
    | AddTopic
    | RemoveAssignment
    | RenameTopic
    | MergeTopics
    | SplitTopic
    | MoveTopic
    | DeleteTopic
    | Undo,
    Field(discriminator="kind"),
]


class CorrectionResponse(BaseModel):
    id: int
    kind: str
    actor: str
    at: str
