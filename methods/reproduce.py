"""`hierograph reproduce METHOD`: minimal runnable scripts for a method's library entry points.

One template per data shape (paired preferences, unpaired feedback, reward model, SFT, online
RL) under methods/recipes/; a recipe is written for every current library implementation
whose registry entry names a `recipe`, pinned to the library release the recipes are tested on.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from hierograph.graph.method_models import Implementation, Method
from hierograph.methods.registry import Registry

# Settings a data shape needs to run a few steps on a tiny model, whatever the method.
_SHAPE_ARGS: dict[str, dict[str, object]] = {
    "pairwise": {"max_length": 64},
    "unpaired": {"max_length": 64},
    "reward": {"max_length": 64},
    "sft": {"max_length": 64},
    "online": {"num_generations": 2, "max_completion_length": 8},
}
_DATA_KIND = {
    "pairwise": "paired preference data",
    "unpaired": "unpaired thumbs-up/down feedback",
    "reward": "paired preference data",
    "sft": "demonstrations",
    "online": "prompts and a reward function",
}


class ReproduceError(ValueError):
    """No recipe can be written; the message says why and what exists instead."""


@dataclass(frozen=True)
class Recipe:
    method_id: str
    entry: str
    path: Path
    install: str


def _template(name: str) -> str:
    return resources.files("hierograph.methods").joinpath("recipes", name).read_text("utf-8")


def recipe_source(method: Method, impl: Implementation, registry: Registry, filename: str) -> str:
    assert impl.entry and impl.recipe
    library = registry.library_for(impl)
    module, _, trainer = impl.entry.rpartition(".")
    values = {
        "method_id": method.id,
        "method_name": method.name,
        "paper": f" (arXiv:{method.arxiv_id})" if method.arxiv_id else "",
        "entry": impl.entry + "".join(f", {k}={v!r}" for k, v in impl.options.items()),
        "since": f" (in {impl.library} since {impl.since})" if impl.since else "",
        "install": library.install_line() if library else f"pip install {impl.library}",
        "filename": filename,
        "data_kind": _DATA_KIND[impl.recipe],
        "module": module,
        "trainer_class": trainer,
        # TRL pairs each trainer with a config class of the same stem (DPOTrainer, DPOConfig).
        "config_class": trainer.removesuffix("Trainer") + "Config",
        "options": repr({**_SHAPE_ARGS[impl.recipe], **impl.options}),
    }
    parts = ("common.py.tmpl", f"{impl.recipe}.py.tmpl", "footer.py.tmpl")
    return "".join(Template(_template(p)).substitute(values) for p in parts)


def recipe_implementations(method: Method) -> list[Implementation]:
    """Library entry points with a recipe that the pinned release still ships."""
    return [i for i in method.implementations if i.recipe and i.until is None]


def write_recipes(registry: Registry, method_key: str, out: Path) -> list[Recipe]:
    method = registry.get(method_key)
    if method is None:
        raise ReproduceError(
            f"no method {method_key!r} in the registry; `hierograph methods` lists them."
        )
    impls = recipe_implementations(method)
    if not impls:
        code = ", ".join(i.url for i in method.implementations) or "none recorded"
        raise ReproduceError(
            f"{method.name} has no library entry point with a recipe; its code: {code}"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for impl in impls:
        assert impl.entry
        suffix = "" if len(impls) == 1 else "_" + impl.entry.rpartition(".")[2].lower()
        filename = f"reproduce_{method.id.replace('-', '_')}{suffix}.py"
        path = out / filename
        path.write_text(recipe_source(method, impl, registry, filename), encoding="utf-8")
        library = registry.library_for(impl)
        written.append(
            Recipe(
                method_id=method.id,
                entry=impl.entry,
                path=path,
                install=library.install_line() if library else f"pip install {impl.library}",
            )
        )
    return written
