"""Argo CD's own install manifest, changed only where this cluster needs it.

``manifests/install.yaml`` of the Argo CD module is applied as released, except:

- the images are the ones built here (same repositories, in the cluster's registry) and
  every container's ``imagePullPolicy`` is ``IfNotPresent``;
- dex, the single-sign-on server, runs 0 replicas (no SSO is configured);
- ``argocd-cm`` adds a health check for Applications, so that the sync waves of the
  app-of-apps wait for each child Application to be Healthy (Argo CD 1.8 dropped it);
- ``argocd-cmd-params-cm`` serves the API as plain HTTP: it is reached only through
  ``kubectl port-forward`` (itself TLS to the API server), which a self-signed certificate
  for ``localhost`` would only complicate.

Everything else, RBAC and NetworkPolicies included, stays as Argo CD ships it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

Manifest = dict[str, Any]

NAMESPACE = "argocd"
DEX = "argocd-dex-server"
PULL_POLICY = "IfNotPresent"

# An Application is as healthy as its parent reports it (what Argo CD before 1.8 did).
APPLICATION_HEALTH = """\
hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil and obj.status.health ~= nil then
  hs.status = obj.status.health.status
  if obj.status.health.message ~= nil then
    hs.message = obj.status.health.message
  end
end
return hs
"""

CONFIG: Mapping[str, Mapping[str, str]] = {
    "argocd-cm": {"resource.customizations.health.argoproj.io_Application": APPLICATION_HEALTH},
    "argocd-cmd-params-cm": {"server.insecure": "true"},
}


class ManifestError(ValueError):
    """install.yaml is not what this release of the cluster command knows."""


def parse(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def dump(docs: Iterable[Manifest]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False)


def _pod_spec(doc: Manifest) -> dict[str, Any] | None:
    if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        spec: dict[str, Any] = doc["spec"]["template"]["spec"]
        return spec
    return None


def containers(doc: Manifest) -> Iterator[dict[str, Any]]:
    spec = _pod_spec(doc)
    if spec is not None:
        yield from spec.get("initContainers") or []
        yield from spec.get("containers") or []


def images(docs: Iterable[Manifest]) -> set[str]:
    """Every image the manifest's pods run."""
    return {str(c["image"]) for doc in docs for c in containers(doc)}


def adapt(
    docs: Iterable[Manifest],
    *,
    images: Mapping[str, str] | None = None,
    pull_policy: str = PULL_POLICY,
) -> list[Manifest]:
    """install.yaml with this cluster's changes (the module doc), ``images`` mapping an
    upstream image to the one to run instead; the input is not changed."""
    swap = dict(images or {})
    out: list[Manifest] = yaml.safe_load(yaml.safe_dump(list(docs)))
    found = {str(doc["metadata"]["name"]) for doc in out if doc.get("kind") == "ConfigMap"}
    missing = sorted(set(CONFIG) - found)
    if missing or not any(d.get("kind") == "Deployment" and _name(d) == DEX for d in out):
        raise ManifestError(
            f"install.yaml lacks {', '.join(missing) or DEX}: not an Argo CD install manifest "
            "of the pinned release (build-support/argocd)"
        )
    for doc in out:
        for container in containers(doc):
            container["image"] = swap.get(container["image"], container["image"])
            container["imagePullPolicy"] = pull_policy
        if doc.get("kind") == "Deployment" and _name(doc) == DEX:
            doc["spec"]["replicas"] = 0
        if doc.get("kind") == "ConfigMap" and _name(doc) in CONFIG:
            doc["data"] = {**(doc.get("data") or {}), **CONFIG[_name(doc)]}
    return out


def _name(doc: Manifest) -> str:
    return str(doc.get("metadata", {}).get("name", ""))
