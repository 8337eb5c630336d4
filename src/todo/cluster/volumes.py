"""Storage of the local cluster: it has no provisioner, so each claim the installs make (the
Dapr scheduler's three, PostgreSQL's, Kafka's) gets a hostPath PersistentVolume made for
it in advance (bound to that claim by ``claimRef``), in a directory its pod's user owns."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s

from todo.cluster import kube
from todo.cluster.install import DAPR_NAMESPACE, KAFKA_NAMESPACE, POSTGRES_NAMESPACE


@dataclass(frozen=True)
class Claim:
    namespace: str
    name: str
    size: str
    uid: int  # the user its pod runs as


CLAIMS = (
    *(
        Claim(DAPR_NAMESPACE, f"dapr-scheduler-data-dir-dapr-scheduler-server-{i}", "1Gi", 65532)
        for i in range(3)
    ),
    Claim(POSTGRES_NAMESPACE, "data-postgres-0", "1Gi", 999),
    Claim(KAFKA_NAMESPACE, "data-kafka-0", "2Gi", 10003),
)


def _pv_name(claim: Claim) -> str:
    return f"local-{claim.namespace}-{claim.name}"


def local_volumes(directory: Path) -> list[kube.Manifest]:
    """The PersistentVolumes (directories made here, owned by each pod's user)."""
    docs: list[kube.Manifest] = []
    for claim in CLAIMS:
        path = directory / claim.namespace / claim.name
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, claim.uid, claim.uid)
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {
                    "name": _pv_name(claim),
                    "labels": {"app.kubernetes.io/managed-by": kube.FIELD_MANAGER},
                },
                "spec": {
                    "capacity": {"storage": claim.size},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "",
                    "hostPath": {"path": str(path), "type": "Directory"},
                    "claimRef": {"namespace": claim.namespace, "name": claim.name},
                },
            }
        )
    return docs


def release_volumes(api: k8s.ApiClient) -> None:
    """A claim deleted and made again (``down --existing`` then ``up``) leaves its volume
    Released with the old claim's uid: forget that uid so the new claim binds."""
    core = k8s.CoreV1Api(api)
    for claim in CLAIMS:
        pv = core.read_persistent_volume(_pv_name(claim))
        if pv.status is not None and pv.status.phase == "Released":
            core.patch_persistent_volume(
                _pv_name(claim),
                {
                    "spec": {
                        "claimRef": {
                            "namespace": claim.namespace,
                            "name": claim.name,
                            "uid": None,
                            "resourceVersion": None,
                        }
                    }
                },
            )
