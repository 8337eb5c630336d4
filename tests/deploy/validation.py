"""Offline schema validation of rendered manifests.

Built-in kinds: ``kubernetes-validate`` ships the OpenAPI-derived JSON Schemas of every
Kubernetes minor from 1.25 on inside its wheel (``kubernetes-json-schema/v1.X.0-local-strict``)
and resolves them from there, so it needs no network. The strict variants reject unknown
fields. Custom resources (Dapr, Argo CD): the small schemas in ``schemas/``, one per
apiVersion and kind (``<group>_<version>_<Kind>.json``), strict on the fields we use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
from deploy.render import Manifest, kind_name

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
# The oldest minor the charts declare (kubeVersion >=1.27) and a current one. Each must be
# a version kubernetes-validate ships (1.25 .. 1.37 in 1.37.0).
KUBE_VERSIONS = ("1.27", "1.33")


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON Schema, from schemas/<group>_<version>_<Kind>.json."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(SCHEMAS_DIR.glob("*.json")):
        group, version, kind = path.stem.split("_")
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        schemas[(f"{group}/{version}", kind)] = schema
    return schemas


def _is_builtin(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def _crd_errors(doc: Manifest, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [
        f"{kind_name(doc)}: {'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in errors
    ]


def _builtin_errors(doc: Manifest, kube_versions: Sequence[str]) -> list[str]:
    found: list[str] = []
    for version in kube_versions:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "<root>"
            found.append(f"{kind_name(doc)} (Kubernetes {version}): {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            found.append(f"{kind_name(doc)}: {exc.message}")
    return found


def validation_errors(
    docs: Iterable[Manifest], kube_versions: Sequence[str] = KUBE_VERSIONS
) -> list[str]:
    """Every schema violation in ``docs``; an unknown custom kind is one too."""
    found: list[str] = []
    schemas = crd_schemas()
    for doc in docs:
        api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
        if _is_builtin(api_version):
            found += _builtin_errors(doc, kube_versions)
        elif (api_version, kind) in schemas:
            found += _crd_errors(doc, schemas[(api_version, kind)])
        else:
            found.append(
                f"{kind_name(doc)}: no schema for {api_version} {kind}: add "
                f"{SCHEMAS_DIR.name}/{api_version.replace('/', '_')}_{kind}.json"
            )
    return found
