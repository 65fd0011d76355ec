"""A throwaway PKI for the local cluster: one CA, a serving cert, an admin client cert and the
service-account signing key. Everything is loopback-only and lives in the cluster's state folder."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_DNS = [
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
]
SERVER_IPS = ["127.0.0.1", "10.96.0.1"]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def _server_leaf(ca_key, ca_name: x509.Name, ips: list[str]):
    key = _key()
    sans = [x509.DNSName(d) for d in SERVER_DNS] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]), ca_name, key.public_key(), 365)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _ensure_server_ips(files: dict[str, Path], ips: list[str]) -> None:
    """Issue the serving certificate again (same CA) when it lacks one of `ips`: the `kubernetes`
    Service's address is per cluster, and a folder made before it was named keeps working."""
    cert = x509.load_pem_x509_certificate(files["server.crt"].read_bytes())
    have = {str(a) for a in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            .get_values_for_type(x509.IPAddress)}
    if set(ips) <= have:
        return
    ca = x509.load_pem_x509_certificate(files["ca.crt"].read_bytes())
    ca_key = serialization.load_pem_private_key(files["ca.key"].read_bytes(), password=None)
    key, cert = _server_leaf(ca_key, ca.subject, sorted(have | set(ips)))
    _write(files["server.key"], _pem_key(key))
    _write(files["server.crt"], _pem_cert(cert))


def ensure_pki(pki: Path, server_ips: tuple[str, ...] = ()) -> dict[str, Path]:
    """Create the PKI once; later calls reuse it so kubeconfigs stay valid across restarts.
    `server_ips`: addresses the API server's certificate must name besides SERVER_IPS."""
    pki.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = {
        name: pki / name
        for name in ("ca.crt", "ca.key", "server.crt", "server.key", "admin.crt", "admin.key", "sa.key", "sa.pub")
    }
    if all(p.exists() for p in files.values()):
        if server_ips:
            _ensure_server_ips(files, [*SERVER_IPS, *server_ips])
        return files

    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "krkn-local-ca")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), 3650)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(name: x509.Name, usage):
        key = _key()
        b = _builder(name, ca_name, key.public_key(), 365).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        return key, b.sign(ca_key, hashes.SHA256())

    server_key, server = _server_leaf(ca_key, ca_name, [*SERVER_IPS, *server_ips])
    # O=system:masters makes this client a cluster admin without any RBAC objects.
    admin_key, admin = leaf(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                x509.NameAttribute(NameOID.COMMON_NAME, "krkn-local-admin"),
            ]
        ),
        ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    sa_key = _key()

    _write(files["ca.crt"], _pem_cert(ca))
    _write(files["ca.key"], _pem_key(ca_key))
    _write(files["server.crt"], _pem_cert(server))
    _write(files["server.key"], _pem_key(server_key))
    _write(files["admin.crt"], _pem_cert(admin))
    _write(files["admin.key"], _pem_key(admin_key))
    _write(files["sa.key"], _pem_key(sa_key))
    _write(
        files["sa.pub"],
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return files
