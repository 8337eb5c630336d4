"""The cluster's CA and the leaves it signs: what the Kubernetes daemons check of them."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from todo.cluster.pki import Authority


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_leaf_is_signed_by_its_ca_and_only_the_ca_may_sign(tmp_path: Path) -> None:
    ca = Authority(tmp_path, "ca", "todo-cluster-ca")
    pair = ca.issue(
        tmp_path / "apiserver",
        "kube-apiserver",
        server=True,
        dns_names=["kubernetes.default.svc"],
        ip_addresses=["127.0.0.1"],
    )
    root, leaf = load(ca.pair.cert), load(pair.cert)
    leaf.verify_directly_issued_by(root)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert not usage.crl_sign
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["kubernetes.default.svc"]


def test_what_exists_is_kept(tmp_path: Path) -> None:
    ca = Authority(tmp_path, "ca", "todo-cluster-ca")
    first = ca.issue(tmp_path / "admin", "admin", organization="system:masters", client=True)
    before = first.cert.read_bytes()
    again = Authority(tmp_path, "ca", "todo-cluster-ca")
    assert again.pair.cert.read_bytes() == ca.pair.cert.read_bytes()
    assert again.issue(tmp_path / "admin", "admin", client=True).cert.read_bytes() == before
