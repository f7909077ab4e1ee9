"""`hierograph reproduce`: recipes are written for library entry points and really train."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hierograph.cli import app
from hierograph.methods.registry import load_registry
from hierograph.methods.reproduce import ReproduceError, recipe_implementations, write_recipes

REGISTRY = load_registry()
WITH_RECIPES = [m.id for m in REGISTRY.methods if recipe_implementations(m)]


def test_every_recipe_is_valid_python_with_the_pinned_install_line(tmp_path: Path) -> None:
    assert len(WITH_RECIPES) >= 10
    pin = REGISTRY.libraries["trl"].pin
    for method_id in WITH_RECIPES:
        for recipe in write_recipes(REGISTRY, method_id, tmp_path / method_id):
            source = recipe.path.read_text()
            ast.parse(source)
            assert f'pip install "trl=={pin}"' in source
            assert f"from {recipe.entry.rpartition('.')[0]} import" in source


def test_entry_points_exist_in_the_installed_library() -> None:
    trl = pytest.importorskip("trl", reason="the [reproduce] extra (trl) is not installed")
    assert trl.__version__ == REGISTRY.libraries["trl"].pin
    for method in REGISTRY.methods:
        for impl in method.implementations:
            if impl.library != "trl" or not impl.entry or impl.until:
                continue
            module, _, name = impl.entry.rpartition(".")
            loaded = importlib.import_module(module)
            assert hasattr(loaded, name), impl.entry
            assert hasattr(loaded, name.removesuffix("Trainer") + "Config"), impl.entry
            config = getattr(loaded, name.removesuffix("Trainer") + "Config")
            for option in impl.options:
                assert option in config.__dataclass_fields__, (impl.entry, option)


def test_reproduce_refuses_clearly(tmp_path: Path) -> None:
    with pytest.raises(ReproduceError, match="no method 'nothing'"):
        write_recipes(REGISTRY, "nothing", tmp_path)
    with pytest.raises(ReproduceError, match="URIAL has no library entry point.*Re-Align/URIAL"):
        write_recipes(REGISTRY, "urial", tmp_path)
    # PPO left TRL after 1.12.0: the pinned release cannot run it, so no recipe is written.
    with pytest.raises(ReproduceError, match="Proximal Policy Optimization"):
        write_recipes(REGISTRY, "PPO", tmp_path)


def run_recipe(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRL_EXPERIMENTAL_SILENCE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, str(path), "2"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=path.parent,
    )


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dpo", "kto", "reward-modeling"])
def test_recipe_runs_end_to_end(method: str, tmp_path: Path) -> None:
    pytest.importorskip("trl", reason="the [reproduce] extra (trl) is not installed")
    result = CliRunner().invoke(app, ["reproduce", method, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert 'install: pip install "trl==' in result.output
    [script] = list(tmp_path.glob("reproduce_*.py"))
    run = run_recipe(script)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert f"OK: {method} with" in run.stdout and "2 steps" in run.stdout
