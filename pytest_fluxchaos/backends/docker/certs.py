"""The control plane's PKI, generated in Python with ``cryptography``.

Like envtest's tiny in-process CA, but with what in-cluster clients need too:

* a serving CA and the kube-apiserver serving certificate, whose SANs cover the
  apiserver's name on the private Docker network (``KUBERNETES_SERVICE_HOST`` of the
  controller containers), ``kubernetes``/``kubernetes.default``/``kubernetes.default.svc``
  (+ ``.cluster.local``), ``localhost``, ``127.0.0.1`` (the plugin reaches the apiserver
  through a port published on loopback) and the first service IP ``10.0.0.1``;
* a separate client-certificate CA (``--client-ca-file``) and an admin client
  certificate in group ``system:masters`` for the plugin's kubeconfig;
* the service-account signing key pair (``--service-account-signing-key-file`` /
  ``--service-account-key-file``) for TokenRequest-issued tokens.

Everything is small, short-lived test material: EC P-256 keys (fast to generate on a
busy 2-core box), validity of a few days.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = _dt.timedelta(days=7)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pub_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def make_ca(common_name: str) -> tuple[KeyPair, ec.EllipticCurvePrivateKey]:
    """A self-signed CA; returns its PEMs and the key object for signing."""
    key = _key()
    now = _dt.datetime.now(_dt.timezone.utc)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(_cert_pem(cert), _key_pem(key)), key


def issue(
    ca: KeyPair,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    *,
    organization: str | None = None,
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
) -> KeyPair:
    """A leaf certificate signed by ``ca``."""
    key = _key()
    now = _dt.datetime.now(_dt.timezone.utc)
    ca_cert = ca.cert
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return KeyPair(_cert_pem(cert), _key_pem(key))


def apiserver_dns_names(apiserver_host: str) -> tuple[str, ...]:
    names = [
        apiserver_host,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
    ]
    return tuple(dict.fromkeys(names))


APISERVER_IPS = ("127.0.0.1", "10.0.0.1")
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


@dataclass(frozen=True)
class ControlPlanePKI:
    """All certificate material of one control plane (PEM bytes)."""

    ca: KeyPair  # serving CA: ca.crt of the in-cluster credentials and the kubeconfig
    apiserver: KeyPair
    client_ca: KeyPair
    admin: KeyPair  # O=system:masters
    sa_private_pem: bytes
    sa_public_pem: bytes

    @classmethod
    def generate(cls, apiserver_host: str, extra_dns: tuple[str, ...] = ()) -> ControlPlanePKI:
        ca, ca_key = make_ca("fluxchaos-ca")
        apiserver = issue(
            ca,
            ca_key,
            "kube-apiserver",
            dns_names=apiserver_dns_names(apiserver_host) + tuple(extra_dns),
            ip_addresses=APISERVER_IPS,
            server=True,
        )
        client_ca, client_ca_key = make_ca("fluxchaos-client-ca")
        admin = issue(
            client_ca,
            client_ca_key,
            "fluxchaos-admin",
            organization="system:masters",
            client=True,
        )
        sa_key = _key()
        return cls(
            ca=ca,
            apiserver=apiserver,
            client_ca=client_ca,
            admin=admin,
            sa_private_pem=_key_pem(sa_key),
            sa_public_pem=_pub_pem(sa_key),
        )

    def files(self) -> dict[str, bytes]:
        """File name -> content, as mounted into the apiserver container."""
        return {
            "ca.crt": self.ca.cert_pem,
            "apiserver.crt": self.apiserver.cert_pem,
            "apiserver.key": self.apiserver.key_pem,
            "client-ca.crt": self.client_ca.cert_pem,
            "sa.key": self.sa_private_pem,
            "sa.pub": self.sa_public_pem,
        }

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.files().items():
            path = directory / name
            path.write_bytes(data)
            # The apiserver image may run as a non-root user; this is throw-away
            # test material in a 0700 run directory.
            path.chmod(0o644)
        for name, data in (("admin.crt", self.admin.cert_pem), ("admin.key", self.admin.key_pem)):
            path = directory / name
            path.write_bytes(data)
            path.chmod(0o600)
        return directory


def verify_chain(leaf_pem: bytes, ca_pem: bytes) -> None:
    """Raise if ``leaf`` was not signed by ``ca`` (used by the tests)."""
    leaf = x509.load_pem_x509_certificate(leaf_pem)
    ca = x509.load_pem_x509_certificate(ca_pem)
    leaf.verify_directly_issued_by(ca)
