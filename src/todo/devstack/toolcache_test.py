"""A Go build with a dependency's files replaced by ours (``GoBuild.overrides``), for real:
the go command, the module proxy (or the module cache) and the built program's output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from todo.devstack import toolcache
from todo.devstack.toolcache import GoBuild, Tool, ToolUnavailable

_GO_MOD = """module example.test/overridden

go 1.21

require github.com/google/uuid v1.6.0
"""
_GO_SUM = """github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=
github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=
"""
_MAIN = """package main

import (
\t"fmt"

\t"github.com/google/uuid"
)

func main() { fmt.Println(uuid.Replaced, uuid.Added(), uuid.Nil) }
"""
# doc.go of uuid v1.6.0 holds only the package comment: ours replaces it with a constant.
_REPLACED_DOC = 'package uuid\n\nconst Replaced = "replaced"\n'
_ADDED = 'package uuid\n\nfunc Added() string { return "added" }\n'


@pytest.fixture
def module(tmp_path: Path) -> Path:
    if toolcache.go_executable() is None:
        pytest.skip("Go is not installed")
    root = tmp_path / "module"
    overrides = root / "_overrides" / "uuid"
    overrides.mkdir(parents=True)
    (root / "go.mod").write_text(_GO_MOD)
    (root / "go.sum").write_text(_GO_SUM)
    (root / "main.go").write_text(_MAIN)
    (overrides / "doc.go").write_text(_REPLACED_DOC)
    (overrides / "added.go").write_text(_ADDED)
    return root


def _recipe(module: Path, **overrides: str) -> GoBuild:
    return GoBuild(
        module=str(module),
        binaries={"program": "."},
        env_var="TODO_TEST_OVERRIDE_MODULE",
        overrides=overrides,
    )


def test_the_build_uses_our_files_over_the_dependency_and_leaves_the_module_alone(
    module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_TEST_OVERRIDE_MODULE", str(module))
    monkeypatch.setenv("TODO_DEVSTACK_CACHE", str(tmp_path / "cache"))
    tool = Tool(
        name="overridden",
        version="1",
        recipe=_recipe(module, **{"github.com/google/uuid": "_overrides/uuid"}),
        outputs=("program",),
    )
    home = toolcache.ensure(tool, log=lambda _: None)
    printed = subprocess.run(
        [str(home / "program")], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert printed.split() == ["replaced", "added", "00000000-0000-0000-0000-000000000000"]
    # The repository's go.mod and go.sum are untouched: the replace lived in a scratch copy.
    assert (module / "go.mod").read_text() == _GO_MOD
    assert (module / "go.sum").read_text() == _GO_SUM
    assert "ours over github.com/google/uuid" in tool.recipe.describe()


def test_without_the_override_the_same_program_does_not_build(
    module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_TEST_OVERRIDE_MODULE", str(module))
    with pytest.raises(ToolUnavailable, match="undefined: uuid.Replaced"):
        _recipe(module).build(tmp_path, log=lambda _: None)


def test_an_override_file_is_part_of_the_fingerprint(
    module: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_TEST_OVERRIDE_MODULE", str(module))
    recipe = _recipe(module, **{"github.com/google/uuid": "_overrides/uuid"})
    before = recipe.fingerprint()
    (module / "_overrides" / "uuid" / "added.go").write_text(_ADDED.replace("added", "other"))
    assert recipe.fingerprint() != before


def test_an_override_of_a_module_the_build_does_not_require_names_it(
    module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_TEST_OVERRIDE_MODULE", str(module))
    recipe = _recipe(module, **{"example.test/not-required": "_overrides/uuid"})
    with pytest.raises(ToolUnavailable, match="go mod download example.test/not-required"):
        recipe.build(tmp_path, log=lambda _: None)
