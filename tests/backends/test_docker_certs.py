"""The control plane's PKI: SANs, usages, chains."""

from __future__ import annotations

import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pytest_fluxchaos.backends.docker.certs import ControlPlanePKI, verify_chain


@pytest.fixture(scope="module")
def pki() -> ControlPlanePKI:
    return ControlPlanePKI.generate("fluxchaos-ab12cd-apiserver")


def _sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(ext.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}
    return dns, ips


def test_apiserver_serving_cert_sans(pki: ControlPlanePKI) -> None:
    dns, ips = _sans(pki.apiserver.cert)
    assert {"fluxchaos-ab12cd-apiserver", "localhost", "kubernetes.default.svc", "kubernetes"} <= dns
    assert {"127.0.0.1", "10.0.0.1"} <= ips
    eku = pki.apiserver.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_chains_verify(pki: ControlPlanePKI) -> None:
    verify_chain(pki.apiserver.cert_pem, pki.ca.cert_pem)
    verify_chain(pki.admin.cert_pem, pki.client_ca.cert_pem)
    with pytest.raises(ValueError, match="Issuer certificate subject does not match"):
        verify_chain(pki.admin.cert_pem, pki.ca.cert_pem)  # separate client CA


def test_admin_is_system_masters(pki: ControlPlanePKI) -> None:
    subject = pki.admin.cert.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    eku = pki.admin.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku


def test_ca_is_ca(pki: ControlPlanePKI) -> None:
    bc = pki.ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca


def test_write_and_load_with_ssl(pki: ControlPlanePKI, tmp_path) -> None:
    d = pki.write(tmp_path / "pki")
    assert {p.name for p in d.iterdir()} >= {
        "ca.crt", "apiserver.crt", "apiserver.key", "client-ca.crt", "sa.key", "sa.pub", "admin.crt", "admin.key"
    }
    assert (d / "admin.key").stat().st_mode & 0o077 == 0
    # The files are what Python's ssl (and so the plugin) will load.
    ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
    ctx.load_cert_chain(str(d / "admin.crt"), str(d / "admin.key"))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(str(d / "apiserver.crt"), str(d / "apiserver.key"))
    assert b"PUBLIC KEY" in (d / "sa.pub").read_bytes()
    ipaddress.ip_address("10.0.0.1")
