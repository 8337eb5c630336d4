"""The README's settings table names every setting the backend reads from the environment,
and nothing it does not: a setting nobody can find is one nobody can set."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from todo.backend.settings import BackendSettings
from todo.worker.settings import WorkerSettings

README = Path("README.md")


def environment_names(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def test_every_backend_setting_is_in_the_readme_table() -> None:
    table = "\n".join(
        line for line in README.read_text().splitlines() if line.startswith("| `TODO_")
    )
    named = set(re.findall(r"`((?:TODO|DAPR)_[A-Z0-9_]+)`", table))
    # The worker's settings are summarised by their prefix and documented in their module.
    named.discard("TODO_WORKER_")
    missing = environment_names(BackendSettings) - named
    assert not missing, f"settings the README's table does not name: {sorted(missing)}"
    known = environment_names(BackendSettings) | environment_names(WorkerSettings)
    unknown = {name for name in named - known if name.startswith("TODO_")}
    assert not unknown, f"the README's table names settings that do not exist: {sorted(unknown)}"
