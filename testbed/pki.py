"""Certificates for the testbed: one CA signs every server and client.

ECDSA P-256 keys: generating and handshaking with them is far cheaper than RSA on
a 2-core machine, and every component (kube-apiserver, Karmada, etcd clients,
service-account token signing) accepts them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Every name a component dials when it verifies a testbed server: loopback, the
# in-cluster names of the kube-apiserver, and the Service names that Karmada's
# aggregator and the training-operator derive from their deploy manifests.
SERVER_DNS_NAMES = [
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "karmada-apiserver",
    "karmada-aggregated-apiserver.karmada-system.svc",
    "karmada-aggregated-apiserver.karmada-system.svc.cluster.local",
    "karmada-webhook.karmada-system.svc",
    "training-operator.kubeflow.svc",
]
SERVER_IPS = ["127.0.0.1", "10.96.0.1"]

_VALIDITY = dt.timedelta(days=365)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.write_bytes(data)
    path.chmod(mode)


def generate(pki: Path) -> None:
    """Write ca, server, admin, front-proxy-client and service-account keys into `pki`."""
    pki.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    ca_key = _key()
    ca_name = _name("mlplatform-testbed-ca")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(pki / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(pki / "ca.key", _key_pem(ca_key), 0o600)

    def leaf(stem: str, cn: str, *, org: str | None = None, server: bool = False) -> None:
        key = _key()
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, org))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            sans: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
            sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write(pki / f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM))
        _write(pki / f"{stem}.key", _key_pem(key), 0o600)

    # One serving certificate for every server: they all listen on 127.0.0.1.
    leaf("server", "mlplatform-testbed-server", server=True)
    # Every component and every kubeconfig authenticates as a cluster admin.
    leaf("admin", "mlplatform-testbed-admin", org="system:masters")
    # The aggregator's client identity towards karmada-aggregated-apiserver; the name
    # must match --requestheader-allowed-names.
    leaf("front-proxy-client", "front-proxy-client")

    sa_key = _key()
    _write(pki / "sa.key", _key_pem(sa_key), 0o600)
    _write(
        pki / "sa.pub",
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
