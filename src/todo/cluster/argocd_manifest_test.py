"""The changes made to Argo CD's install.yaml (on a manifest of the same shape)."""

from __future__ import annotations

import copy

import pytest

from todo.cluster.argocd_manifest import (
    APPLICATION_HEALTH,
    Manifest,
    ManifestError,
    adapt,
    containers,
    dump,
    images,
    parse,
)

INSTALL = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cm}
data:
  resource.exclusions: keep me
---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cmd-params-cm}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-dex-server}
spec:
  template:
    spec:
      initContainers:
        - {name: copyutil, image: "quay.io/argoproj/argocd:v3.2.11", imagePullPolicy: Always}
      containers:
        - {name: dex, image: "ghcr.io/dexidp/dex:v2.43.0", imagePullPolicy: Always}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-redis}
spec:
  template:
    spec:
      containers:
        - {name: redis, image: "public.ecr.aws/docker/library/redis:8.2.2-alpine"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: argocd-application-controller}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - {name: c, image: "quay.io/argoproj/argocd:v3.2.11", imagePullPolicy: Always}
"""


def by_name(docs: list[Manifest]) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in docs}


def test_every_container_gets_the_pull_policy_and_dex_stops() -> None:
    docs = adapt(parse(INSTALL))
    for doc in docs:
        for container in containers(doc):
            assert container["imagePullPolicy"] == "IfNotPresent", container["name"]
    named = by_name(docs)
    assert named["argocd-dex-server"]["spec"]["replicas"] == 0
    assert named["argocd-application-controller"]["spec"]["replicas"] == 1
    assert images(docs) == {
        "quay.io/argoproj/argocd:v3.2.11",
        "ghcr.io/dexidp/dex:v2.43.0",
        "public.ecr.aws/docker/library/redis:8.2.2-alpine",
    }


def test_config_is_added_and_what_argo_cd_ships_is_kept() -> None:
    named = by_name(adapt(parse(INSTALL)))
    cm = named["argocd-cm"]["data"]
    assert cm["resource.exclusions"] == "keep me"
    assert cm["resource.customizations.health.argoproj.io_Application"] == APPLICATION_HEALTH
    assert named["argocd-cmd-params-cm"]["data"] == {"server.insecure": "true"}


def test_the_input_is_left_alone_and_a_second_pass_changes_nothing() -> None:
    original = parse(INSTALL)
    before = copy.deepcopy(original)
    once = adapt(original)
    assert original == before
    assert adapt(once) == once
    assert parse(dump(once)) == once


def test_the_pull_policy_is_a_parameter() -> None:
    docs = adapt(parse(INSTALL), pull_policy="Always")
    assert {c["imagePullPolicy"] for d in docs for c in containers(d)} == {"Always"}


@pytest.mark.parametrize("drop", ["argocd-cm", "argocd-dex-server"])
def test_a_manifest_of_another_shape_is_refused(drop: str) -> None:
    docs = [d for d in parse(INSTALL) if d["metadata"]["name"] != drop]
    with pytest.raises(ManifestError, match=f"lacks {drop}"):
        adapt(docs)


def test_images_built_here_replace_the_upstream_ones() -> None:
    built = "127.0.0.1:5000/argoproj/argocd:v3.2.11-0123abcd"
    docs = adapt(parse(INSTALL), images={"quay.io/argoproj/argocd:v3.2.11": built})
    assert images(docs) == {
        built,
        "ghcr.io/dexidp/dex:v2.43.0",
        "public.ecr.aws/docker/library/redis:8.2.2-alpine",
    }
