"""A private Dovecot for the tests: loopback only, its own folders, a passwd-file of test users."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
TEST_USER = "avflowtest"

CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
mail_location = maildir:{d}/mail/%u
mail_fsync = never
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = {gid}
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Trash {{
    special_use = \\Trash
  }}
  mailbox Sent {{
    special_use = \\Sent
  }}
  mailbox Drafts {{
    special_use = \\Drafts
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = {imaps}
  }}
  {chroot}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
{extra}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _system_user() -> tuple[int, int, str]:
    """The uid/gid mail is stored as: a dedicated user when root, else the current user."""
    if os.getuid() != 0:
        me = pwd.getpwuid(os.getuid())
        return me.pw_uid, me.pw_gid, me.pw_name
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                TEST_USER,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(TEST_USER)
    return entry.pw_uid, entry.pw_gid, TEST_USER


def self_signed(cert: Path, key: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    c = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(k.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(k, hashes.SHA256())
    )
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key.chmod(0o600)


class Dovecot:
    """A running private Dovecot instance."""

    def __init__(
        self, root: Path, extra: str = "", ssl: bool = True, mechanisms: str = "plain login"
    ) -> None:
        self.root = root
        self.port = free_port()
        self.tls_port = free_port()
        self.uid, self.gid, self.user = _system_user()
        for sub in ("run", "state", "home", "mail"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("home", "mail"):
            os.chown(root / sub, self.uid, self.gid)
        self_signed(root / "cert.pem", root / "key.pem")
        # Users are made up front: Dovecot may not notice a passwd-file changed within a second.
        self._users = [f"u{uuid.uuid4().hex[:10]}" for _ in range(300)]
        (root / "passwd").write_text("".join(f"{u}:{{PLAIN}}secret::::::\n" for u in self._users))
        root_run = os.getuid() == 0
        self.conf = root / "dovecot.conf"
        self.conf.write_text(
            CONF.format(
                d=root,
                uid=self.uid,
                gid=self.gid,
                port=self.port,
                tls_port=self.tls_port,
                extra=extra,
                login_user="dovenull" if root_run else self.user,
                internal_user="dovecot" if root_run else self.user,
                chroot="" if root_run else "chroot =",
                ssl=f"ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem"
                if ssl
                else "ssl = no",
                imaps="yes" if ssl else "no",
                mechanisms=mechanisms,
            )
        )
        self.start()

    def start(self) -> None:
        # The daemon keeps inherited pipes open: give it none, or run() would wait forever.
        with (self.root / "start.err").open("wb") as err:
            done = subprocess.run(
                [DOVECOT, "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        if done.returncode != 0:
            raise RuntimeError(f"dovecot failed to start: {(self.root / 'start.err').read_text()}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        subprocess.run(
            [DOVECOT, "-c", str(self.conf), "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (self.root / "run" / "master.pid").exists():
            time.sleep(0.05)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def new_user(self) -> str:
        """A user whose mailbox nobody has used yet (password ``secret``)."""
        return self._users.pop()

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user

    def master_pid(self) -> int:
        return int((self.root / "run" / "master.pid").read_text().split()[0])

    def imap_pids(self) -> list[int]:
        """Processes serving IMAP connections (children of this instance's master)."""
        master, out = self.master_pid(), []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if ppid == master and comm == "imap":
                out.append(int(entry))
        return out

    def signal_connections(self, sig: int = signal.SIGKILL) -> int:
        pids = self.imap_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return len(pids)

    def rmtree_user(self, user: str) -> None:
        shutil.rmtree(self.maildir(user), ignore_errors=True)
