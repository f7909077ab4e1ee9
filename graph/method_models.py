"""Records for methods, their implementations and code repositories (concept → code).

A `Method` and its `Implementation`s come from the hand-reviewed registry (data/methods.yaml);
links from papers and topics to methods, and papers' repositories, are derived from the corpus.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Relation = Literal["PROPOSES", "USES"]
OptionValue = str | int | float | bool


class Implementation(BaseModel):
    """Code for a method: a library entry point (e.g. `trl.DPOTrainer`) or a repository."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["library", "repo"]
    url: str
    library: str | None = Field(None, description="The library's key in the registry.")
    entry: str | None = Field(None, description="Import path in the pinned library version.")
    options: dict[str, OptionValue] = Field(
        default_factory=dict, description="Config the entry point needs to run this method."
    )
    since: str | None = Field(None, description="First release that ships the entry point.")
    until: str | None = Field(None, description="Last release that ships it, if it was removed.")
    recipe: Literal["pairwise", "unpaired", "reward", "sft", "online"] | None = None
    official: bool = Field(False, description="By the authors of the method's canonical paper.")
    note: str | None = None

    @model_validator(mode="after")
    def _library_fields(self) -> Implementation:
        if self.kind == "library" and not self.library:
            raise ValueError("a library implementation needs `library` (a key of `libraries`)")
        if self.recipe and not self.entry:
            raise ValueError("an implementation with a `recipe` needs its `entry` point")
        return self

    @property
    def id(self) -> str:
        """Stable key: the same entry point with other options is another implementation."""
        key = json.dumps([self.url, self.entry, sorted(self.options.items())])
        return hashlib.sha1(key.encode()).hexdigest()[:16]


class Method(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str
    arxiv_id: str | None = Field(None, pattern=r"^\d{4}\.\d{4,5}$")
    paper_title: str | None = None
    implementations: list[Implementation] = Field(default_factory=list)

    @field_validator("description")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v.strip():
            raise ValueError("the description must be one line")
        return v.strip()

    def names(self) -> list[str]:
        """The canonical name and every alias, in registry order, without repeats."""
        return list(dict.fromkeys([self.name, *self.aliases]))


class MethodLink(BaseModel):
    """(:Paper)-[:PROPOSES|USES]->(:Method), with the text that justified it."""

    paper_id: str
    method_id: str
    relation: Relation
    evidence: str = ""


class TopicMethod(BaseModel):
    """(:Topic)-[:ABOUT]->(:Method): the method is characteristic of the topic's papers."""

    topic_id: str
    method_id: str
    score: float
    papers: int


class Repository(BaseModel):
    """(:Repository {url}), with the outcome of the last link check."""

    url: str
    status: int | None = None
    ok: bool | None = None
    checked_at: str | None = None
    error: str | None = None


class CodeLink(BaseModel):
    """(:Paper)-[:HAS_CODE]->(:Repository)."""

    paper_id: str
    url: str


Rank = Literal["official", "library", "repo"]


class PaperRef(BaseModel):
    paper_id: str
    title: str
    relation: Relation
    arxiv_id: str | None = None


class RankedImplementation(BaseModel):
    rank: Rank
    url: str
    source: str = Field(description="'registry', or the paper whose code link this is")
    entry: str | None = None
    library: str | None = None
    since: str | None = None
    until: str | None = None
    options: dict[str, OptionValue] = Field(default_factory=dict)
    status: int | None = None
    ok: bool | None = None


class MethodCode(BaseModel):
    method: Method
    papers: list[PaperRef]
    implementations: list[RankedImplementation]


class CodeFor(BaseModel):
    """The answer to "which code implements this concept?"."""

    concept: str
    matched: Literal["method", "topic", "search", "none"]
    topics: list[str] = Field(default_factory=list, description="Topic ids that matched.")
    methods: list[MethodCode] = Field(default_factory=list)
