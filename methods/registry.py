"""Loading the hand-reviewed method registry (data/methods.yaml), validated at load."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hierograph.graph.method_models import Implementation, Method

# The registry ships with the source tree; `methods_registry` in settings points elsewhere.
DEFAULT_REGISTRY = Path(__file__).resolve().parents[1] / "data" / "methods.yaml"


class RegistryError(ValueError):
    """The registry file is missing or invalid; the message names the file and the field."""


class Library(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pypi: str
    url: str
    pin: str | None = Field(None, description="The release recipes are written and tested for.")

    def install_line(self) -> str:
        return f'pip install "{self.pypi}=={self.pin}"' if self.pin else f"pip install {self.pypi}"


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    libraries: dict[str, Library] = Field(default_factory=dict)
    methods: list[Method]

    @model_validator(mode="after")
    def _consistent(self) -> Registry:
        seen: dict[str, str] = {}
        for m in self.methods:
            if m.id in seen:
                raise ValueError(f"method id {m.id!r} appears twice")
            seen[m.id] = m.id
        # One spelling naming two methods would make linking ambiguous.
        owner: dict[str, str] = {}
        for m in self.methods:
            for name in m.names():
                other = owner.setdefault(name, m.id)
                if other != m.id:
                    raise ValueError(f"alias {name!r} names both {other!r} and {m.id!r}")
            for impl in m.implementations:
                if impl.library and impl.library not in self.libraries:
                    raise ValueError(
                        f"method {m.id!r} uses library {impl.library!r}, which is not in "
                        f"`libraries` ({', '.join(sorted(self.libraries))})"
                    )
        return self

    def get(self, key: str) -> Method | None:
        """A method by id, canonical name or alias (case-insensitive)."""
        wanted = key.strip().casefold()
        for m in self.methods:
            if wanted == m.id or wanted in (n.casefold() for n in m.names()):
                return m
        return None

    def library_for(self, impl: Implementation) -> Library | None:
        return self.libraries.get(impl.library) if impl.library else None


def load_registry(path: Path | None = None) -> Registry:
    path = Path(path) if path else DEFAULT_REGISTRY
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise RegistryError(
            f"method registry {path} not found: set HIEROGRAPH_METHODS_REGISTRY to a methods.yaml"
        ) from e
    except yaml.YAMLError as e:
        raise RegistryError(f"{path} is not valid YAML: {e}") from e
    try:
        return Registry.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise RegistryError(f"{path} is invalid: {problems}") from e
