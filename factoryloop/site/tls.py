"""The site's TLS material with the ``openssl`` command: a CA, one PKCS12 keystore per broker, and PEM server
certificates (an MQTT broker's).

Every broker certificate has the same subject (``CN=factoryloop-broker``: the principal that brokers and
controllers authenticate each other with on the controller listener) and its own host in the subject
alternative names, which clients check (``ssl_check_hostname``). Keys are EC P-256; private keys and
keystores are written 0600.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from factoryloop.errors import ConfigError
from factoryloop.stack.kafka_config import BROKER_CERT_PRINCIPAL

logger = logging.getLogger(__name__)

CA_DAYS = 3650
BROKER_DAYS = 825


def _openssl(*args: str) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise ConfigError("the 'openssl' command is needed to create the site's TLS keys; install openssl")
    proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise ConfigError(f"openssl {args[0]} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")


def _restrict(path: Path) -> None:
    os.chmod(path, 0o600)


def subject_alt_names(host: str) -> list[str]:
    """SAN entries for a broker reached as ``host`` (plus localhost/127.0.0.1 for checks on the box)."""
    names = {"DNS:localhost", "IP:127.0.0.1"}
    try:
        ipaddress.ip_address(host)
        names.add(f"IP:{host}")
    except ValueError:
        names.add(f"DNS:{host}")
    return sorted(names)


def create_ca(ca_cert: Path, ca_key: Path, name: str) -> None:
    """A self-signed CA certificate (``ca_cert``, public) and its key (``ca_key``, 0600)."""
    _openssl(
        "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(ca_key), "-out", str(ca_cert), "-days", str(CA_DAYS), "-sha256",
        "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _restrict(ca_key)


def create_server_cert(
    host: str, ca_cert: Path, ca_key: Path, cert_out: Path, key_out: Path, common_name: str
) -> None:
    """A server key (``key_out``, 0600, PEM, not encrypted) and its certificate (``cert_out``, PEM) signed by
    the CA, for ``host`` (:func:`subject_alt_names`), usable as a TLS server and client certificate."""
    with tempfile.TemporaryDirectory(prefix="factoryloop-tls-") as tmp:
        csr, ext = Path(tmp) / "server.csr", Path(tmp) / "ext.cnf"
        ext.write_text(
            f"subjectAltName={','.join(subject_alt_names(host))}\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth,clientAuth\n"
        )
        _openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key_out), "-out", str(csr), "-subj", f"/CN={common_name}",
        )  # fmt: skip
        _restrict(key_out)
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
            "-CAserial", str(Path(tmp) / "ca.srl"), "-days", str(BROKER_DAYS), "-sha256",
            "-extfile", str(ext), "-out", str(cert_out),
        )  # fmt: skip


def create_broker_keystore(
    host: str, ca_cert: Path, ca_key: Path, keystore: Path, cert_out: Path, password_file: Path
) -> None:
    """A broker key signed by the CA, exported with its chain as a PKCS12 ``keystore`` (0600) whose password
    is the content of ``password_file``; the certificate alone goes to ``cert_out`` (public)."""
    with tempfile.TemporaryDirectory(prefix="factoryloop-tls-") as tmp:
        key = Path(tmp) / "broker.key"
        create_server_cert(host, ca_cert, ca_key, cert_out, key, BROKER_CERT_PRINCIPAL)
        _openssl(
            "pkcs12", "-export", "-in", str(cert_out), "-inkey", str(key), "-certfile", str(ca_cert),
            "-name", BROKER_CERT_PRINCIPAL, "-out", str(keystore), "-passout", f"file:{password_file}",
        )  # fmt: skip
    _restrict(keystore)
    logger.info("broker keystore for %s: %s", host, keystore)
