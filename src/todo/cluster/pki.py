"""The local cluster's certificates and keys, made once with ``cryptography`` (as kubeadm
lays them out): a cluster CA, a front-proxy CA, the service-account signing key, and one
client or serving certificate per component. Every file is written once and reused, so a
second ``up`` keeps the cluster's identity (and every kubeconfig) unchanged."""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=3650)
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class Pair:
    """A certificate and its key on disk (PEM)."""

    cert: Path
    key: Path


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(
        path.with_suffix(path.suffix + ".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600
    )
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(path.with_suffix(path.suffix + ".tmp"), path)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an EC or RSA private key")
    return key


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)


def _certificate(
    subject: x509.Name, issuer: x509.Name, public_key: PublicKey, *, ca: bool
) -> x509.CertificateBuilder:
    """What a CA and a leaf share: names, validity, the basic constraints, and key usage (a
    CA signs certificates and CRLs; a leaf only signs)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


class Authority:
    """A CA kept as ``<name>.crt``/``<name>.key`` in ``directory``; made on first use."""

    def __init__(self, directory: Path, name: str, common_name: str) -> None:
        self.pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
        if not (self.pair.cert.is_file() and self.pair.key.is_file()):
            key = ec.generate_private_key(ec.SECP256R1())
            subject = _name(common_name)
            cert = (
                _certificate(subject, subject, key.public_key(), ca=True)
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
                )
                .sign(key, hashes.SHA256())
            )
            _write_private(self.pair.key, _key_pem(key))
            self.pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._cert = x509.load_pem_x509_certificate(self.pair.cert.read_bytes())
        self._key = _load_key(self.pair.key)

    def issue(
        self,
        path_stem: Path,
        common_name: str,
        *,
        organization: str | None = None,
        client: bool = False,
        server: bool = False,
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
    ) -> Pair:
        """A leaf certificate signed by this CA at ``<stem>.crt``/``<stem>.key``; an existing
        one is kept."""
        pair = Pair(path_stem.with_suffix(".crt"), path_stem.with_suffix(".key"))
        if pair.cert.is_file() and pair.key.is_file():
            return pair
        key = ec.generate_private_key(ec.SECP256R1())
        usages = []
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            _certificate(
                _name(common_name, organization), self._cert.subject, key.public_key(), ca=False
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._cert.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )
        alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        _write_private(pair.key, _key_pem(key))
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return pair


def service_account_keys(directory: Path) -> tuple[Path, Path]:
    """The RSA key pair that signs service-account tokens (``sa.key``, ``sa.pub``)."""
    private, public = directory / "sa.key", directory / "sa.pub"
    if not (private.is_file() and public.is_file()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(private, _key_pem(key))
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private, public
