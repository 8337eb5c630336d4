"""How the deploy tests find Helm and actionlint, and what they say when they cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy import conftest

from todo.devstack import gotools as tools
from todo.devstack import toolcache
from todo.devstack.cache import cache_root


def test_an_explicit_path_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "helm"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("TODO_HELM", str(fake))
    assert tools.helm() == str(fake)


def test_a_wrong_explicit_path_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TODO_ACTIONLINT", str(tmp_path / "missing"))
    with pytest.raises(tools.ToolUnavailable, match="is not an executable file"):
        tools.actionlint()


def test_the_cache_follows_the_devstack_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TODO_DEVSTACK_CACHE", str(tmp_path / "cache"))
    assert tools.HELM.path() == tmp_path / "cache" / f"helm-{tools.HELM_VERSION}" / "helm"
    monkeypatch.delenv("TODO_DEVSTACK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "todo-devstack"


def _no_tool_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TODO_HELM", raising=False)
    monkeypatch.setenv("TODO_DEVSTACK_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(toolcache, "go_executable", lambda: None)


def test_without_go_the_error_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_tool_anywhere(monkeypatch, tmp_path)
    with pytest.raises(tools.ToolUnavailable, match="install Go .*or set TODO_HELM"):
        tools.helm()


def test_a_missing_tool_fails_under_ci_and_skips_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_tool_anywhere(monkeypatch, tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        conftest.require(tools.HELM)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="install Go"):
        conftest.require(tools.HELM)


def test_the_helm_build_stamps_version_and_kubernetes_minor() -> None:
    assert isinstance(tools.HELM.recipe, toolcache.GoInstall)
    flags = " ".join(tools.HELM.recipe.ldflags)
    assert f"version.version=v{tools.HELM_VERSION}" in flags
    assert "chartutil.k8sVersionMinor=37" in flags


class _Echo(toolcache.Recipe):
    """A recipe that writes one file: what --check sees before and after a build."""

    def fingerprint(self) -> str | None:
        return "echo-1"

    def build(self, staging: Path, log: toolcache.Log) -> None:
        (staging / "echo").write_text("built\n")


def test_check_exits_1_until_every_tool_is_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TODO_DEVSTACK_CACHE", str(tmp_path / "cache"))
    tools_here = [toolcache.Tool("echo", "1", _Echo(), ("echo",))]
    assert toolcache.cli(tools_here, ["--check"]) == 1
    assert "not built" in capsys.readouterr().out
    assert toolcache.cli(tools_here, ["--build-only"]) == 0
    assert toolcache.cli(tools_here, ["--check"]) == 0
    assert "cached" in capsys.readouterr().out
