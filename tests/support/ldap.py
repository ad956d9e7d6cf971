"""A real, throwaway OpenLDAP (Debian's ``slapd``) for the directory tests.

``Slapd(workdir).start()`` writes a ``slapd.conf`` (mdb backend, the core, cosine,
inetOrgPerson and nis schemas) and a TLS certificate signed by a CA of its own into
``workdir``, starts slapd in the foreground as the current user on two free loopback ports
(``ldap://`` with StartTLS available, and ``ldaps://``), and loads ``SEED`` with ``ldapadd``.
``modify(ldif)`` applies an LDIF change with ``ldapmodify``, as an administrator would.

The directory (``dc=example,dc=org``):
  ou=people: lara, mike (staff), nina (a contractor: outside LDAP_USER_FILTER), olga
  (staff and admin: LDAP_SUPERUSER_FILTER), pete (staff and restricted), each with the
  password ``<name>-secret`` and the e-mail ``<name>@example.org``.
  ou=groups: cn=devs (lara, mike), cn=ops (olga), groupOfNames.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

from devservers import INSTALL_HINT, DevServerError, free_ports, log_tail, stop_process
from tests.support.tls import ThrowawayCA

BASE_DN = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "directory-admin-secret"
PEOPLE = f"ou=people,{BASE_DN}"
GROUPS = f"ou=groups,{BASE_DN}"
USER_FILTER = "(employeeType=staff)"
SUPERUSER_FILTER = "(employeeType=admin)"
RESTRICTED_FILTER = "(employeeType=restricted)"

USERS = {
    "lara": ["staff"],
    "mike": ["staff"],
    "nina": ["contractor"],
    "olga": ["staff", "admin"],
    "pete": ["staff", "restricted"],
}


def password_of(name: str) -> str:
    return f"{name}-secret"


def user_dn(name: str) -> str:
    return f"uid={name},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


def _person(name: str, types: list[str]) -> str:
    lines = [
        f"dn: {user_dn(name)}",
        "objectClass: inetOrgPerson",
        f"uid: {name}",
        f"cn: {name.title()}",
        f"sn: {name.title()}",
        f"mail: {name}@example.org",
        f"userPassword: {password_of(name)}",
        *(f"employeeType: {t}" for t in types),
    ]
    return "\n".join(lines) + "\n"


def _group(name: str, members: list[str]) -> str:
    lines = [f"dn: {group_dn(name)}", "objectClass: groupOfNames", f"cn: {name}"]
    lines += [f"member: {user_dn(m)}" for m in members]
    return "\n".join(lines) + "\n"


SEED = "\n".join(
    [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\n"
        "o: Example\ndc: example\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        *(_person(n, t) for n, t in USERS.items()),
        _group("devs", ["lara", "mike"]),
        _group("ops", ["olga"]),
    ]
)

START_TIMEOUT = 30.0


def _write_tls(workdir: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost: (ca, cert, key) paths."""
    ca = ThrowawayCA.create(workdir, "Berth test LDAP CA")
    cert, key = ca.issue("127.0.0.1", "localhost")
    return ca.pem, cert, key


class Slapd:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.tls_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.ca_path = workdir / "ca.pem"

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def config(self, **extra: object) -> dict[str, object]:
        """Quay's keys for this directory (AUTHENTICATION_TYPE: LDAP), plus ``extra``."""
        return {
            "AUTHENTICATION_TYPE": "LDAP",
            "LDAP_URI": self.uri,
            "LDAP_ADMIN_DN": ADMIN_DN,
            "LDAP_ADMIN_PASSWD": ADMIN_PASSWORD,
            "LDAP_BASE_DN": ["dc=example", "dc=org"],
            "LDAP_USER_RDN": ["ou=people"],
            "LDAP_UID_ATTR": "uid",
            "LDAP_EMAIL_ATTR": "mail",
            "LDAP_USER_FILTER": USER_FILTER,
            "LDAP_SUPERUSER_FILTER": SUPERUSER_FILTER,
            "LDAP_RESTRICTED_USER_FILTER": RESTRICTED_FILTER,
            "LDAP_TIMEOUT": 5,
            "LDAP_NETWORK_TIMEOUT": 5,
            **extra,
        }

    def start(self) -> None:
        binary = shutil.which("slapd") or "/usr/sbin/slapd"
        if not Path(binary).exists() or shutil.which("ldapadd") is None:
            raise DevServerError(f"slapd or ldapadd not found: {INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        ca, cert, key = _write_tls(self.workdir)
        conf = self.workdir / "slapd.conf"
        conf.write_text(
            "\n".join(
                [
                    *(
                        f"include /etc/ldap/schema/{s}.schema"
                        for s in ("core", "cosine", "inetorgperson", "nis")
                    ),
                    f"pidfile {self.workdir / 'slapd.pid'}",
                    f"argsfile {self.workdir / 'slapd.args'}",
                    "modulepath /usr/lib/ldap",
                    "moduleload back_mdb",
                    f"TLSCACertificateFile {ca}",
                    f"TLSCertificateFile {cert}",
                    f"TLSCertificateKeyFile {key}",
                    "database mdb",
                    "maxsize 10485760",
                    f'suffix "{BASE_DN}"',
                    f'rootdn "{ADMIN_DN}"',
                    f"rootpw {ADMIN_PASSWORD}",
                    f"directory {data}",
                    "access to attrs=userPassword by self read by anonymous auth by * none",
                    "access to * by * read",
                    "",
                ]
            )
        )
        log = self.workdir / "slapd.log"
        for _attempt in range(3):
            self.port, self.tls_port = free_ports(2)
            with log.open("ab") as out:
                self.proc = subprocess.Popen(
                    [binary, "-f", str(conf), "-d", "0",
                     "-h", f"{self.uri}/ {self.ldaps_uri}/"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )  # fmt: skip
            if self._wait_ready():
                self._ldap("ldapadd", SEED)
                return
            self.stop()
        raise DevServerError(f"slapd did not start:\n{log_tail(log)}")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return True
            time.sleep(0.02)
        return False

    def _ldap(self, tool: str, ldif: str) -> None:
        proc = subprocess.run(
            [tool, "-x", "-H", self.uri, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD],
            input=ldif.encode(), capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise DevServerError(f"{tool} failed: {proc.stdout!r} {proc.stderr!r}")

    def modify(self, ldif: str) -> None:
        """Apply an LDIF change (``changetype: modify`` ...) with ldapmodify."""
        self._ldap("ldapmodify", ldif)

    def add(self, ldif: str) -> None:
        self._ldap("ldapadd", ldif)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
