"""One SFTP connection (paramiko), shared by the SFTP source and the SFTP destination.

- Host keys are checked strictly against the profile's own known_hosts: an
  unknown key is refused, a changed one refused loudly; nothing is auto-added.
- The connection opens on first use and is reused until :meth:`Session.close`
  (the watcher closes it after each poll: no idle connection to go stale).
- Every operation goes through :meth:`Session.run`, the one seam where paramiko's
  and the socket's exceptions become :class:`TransferError` with a message naming
  the host and the operation, never a secret; retryable ones are retried with
  backoff (tenacity) on a fresh connection, up to ``retry.attempts``.
- Downloads prefetch with a capped number of requests in flight; uploads go to
  a hidden temporary name, then ``posix-rename`` replaces the target atomically.
"""

from __future__ import annotations

import errno
import io
import logging
import posixpath
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from filebridge.errors import (
    Bug,
    DiskFull,
    HostKeyChanged,
    PermanentTransferError,
    RetryableTransferError,
    TransferError,
    disk_full,
)
from filebridge.lazy import lazy
from filebridge.outputs import TMP_PREFIX
from filebridge.transport import hostkeys
from filebridge.transport.options import SftpServer

if TYPE_CHECKING:  # the real modules for the types; at run time, on first use
    import paramiko
    import tenacity
else:
    paramiko = lazy("paramiko")
    tenacity = lazy("tenacity")

log = logging.getLogger("filebridge")
# paramiko's transport thread logs raw socket errors with tracebacks; our own
# message for the same failure is translated and clearer. With -v (DEBUG) they stay.
if logging.getLogger("paramiko").level == logging.NOTSET and \
        logging.getLogger().getEffectiveLevel() > logging.DEBUG:
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)


def _quiet_prefetch(args: threading.ExceptHookArgs, previous: Any = threading.excepthook) -> None:
    # paramiko's prefetch thread has no error handling: when the connection drops it
    # dies printing a traceback. The reading side gets the same failure, translated.
    name = args.thread.name if args.thread is not None else ""
    if "_prefetch_thread" in name and isinstance(
            args.exc_value, (OSError, EOFError, paramiko.SSHException)):
        return
    previous(args)


threading.excepthook = _quiet_prefetch

T = TypeVar("T")

PREFETCH = 64          # read requests in flight: unbounded prefetch hangs some servers
DEFAULT_REQUEST = 32768  # bytes per read/write request when the server states no limits
MAX_REQUEST = 261120   # OpenSSH's limit; larger requests mean far less Python per byte
WINDOW = 32 << 20      # SSH channel window: room for PREFETCH full requests in flight
PACKET = 256 << 10     # largest SSH packet we accept: one per request, not eight
CHUNK = 1 << 20        # bytes moved per local read/write call
# Off unless the profile opts in. paramiko 5 has already dropped SHA-1 key exchange
# and ssh-rsa signatures; naming them here keeps them off with older versions too.
LEGACY = {"ciphers": ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"],
          "macs": ["hmac-sha1", "hmac-md5", "hmac-sha1-96", "hmac-md5-96"],
          "kex": ["diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1",
                  "diffie-hellman-group-exchange-sha1"],
          "keys": ["ssh-rsa", "ssh-dss"], "pubkeys": ["ssh-rsa", "ssh-dss"]}


class _Refuse(paramiko.MissingHostKeyPolicy):
    """Unknown host key: refuse, and say how to check and pin it."""

    def __init__(self, label: str, known_hosts: Path):
        self.label, self.known_hosts = label, known_hosts

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        raise PermanentTransferError(
            f"{self.label}: unknown host key {hostid_key(hostname, key)}: it is not in "
            f"{self.known_hosts}. Check the fingerprint with the server's administrator, "
            "then pin it with 'filebridge trust PROFILE'")


def hostid_key(name: str, key: paramiko.PKey) -> str:
    return f"{name} {hostkeys.describe(key)}"


def _transport(sock: Any, disabled_algorithms: dict[str, list[str]] | None = None
               ) -> paramiko.Transport:
    return paramiko.Transport(sock, default_window_size=WINDOW,
                              default_max_packet_size=PACKET,
                              disabled_algorithms=disabled_algorithms)


def algorithms(server: SftpServer) -> dict[str, list[str]] | None:
    return None if server.legacy_algorithms else LEGACY


def scan_host_key(server: SftpServer, prefer: str | None = None) -> paramiko.PKey:
    """The server's host key, without logging in (for ``filebridge trust``); of type
    ``prefer`` when the server has one (to compare with a pinned key of that type)."""
    label = f"sftp://{server.host}:{server.port}"
    try:
        sock = socket.create_connection((server.host, server.port), server.connect_timeout)
    except OSError as e:
        raise RetryableTransferError(f"{label}: cannot connect ({e.strerror or e})") from None
    t = _transport(sock, algorithms(server))
    opts = t.get_security_options()
    prefer = "rsa-sha2-512" if prefer == "ssh-rsa" else prefer  # what RSA keys negotiate as
    if prefer is not None and prefer in opts.key_types:
        opts.key_types = (prefer,) + tuple(k for k in opts.key_types if k != prefer)
    try:
        t.banner_timeout = server.connect_timeout
        t.start_client(timeout=server.connect_timeout)
        return t.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as e:
        raise RetryableTransferError(f"{label}: SSH handshake failed ({type(e).__name__})") \
            from None
    finally:
        t.close()


class Session:
    """One connection to one server, opened on first use, reused until close()."""

    def __init__(self, server: SftpServer):
        self.server = server
        self.label = f"sftp://{server.user}@{server.host}:{server.port}"
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._pkey: paramiko.PKey | None = None
        self.read_size = self.write_size = DEFAULT_REQUEST
        self._orphans: set[str] = set()  # temporaries a dropped upload left behind
        self._no_posix_rename = False

    def url(self, remote: str) -> str:
        """A remote path for people and the ledger; /~/ is the login folder (as in curl)."""
        return self.label + (remote if remote.startswith("/") else "/~/" + remote)

    # the one seam --------------------------------------------------------------
    def run(self, what: str, op: Callable[[paramiko.SFTPClient], T], *,
            attempts: int | None = None) -> T:
        """``op`` on a live connection; translated errors, retried while retryable."""
        r = self.server.retry
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts or r.attempts),
            wait=tenacity.wait_exponential(multiplier=r.wait, max=r.max_wait),
            retry=tenacity.retry_if_exception_type(RetryableTransferError),
            reraise=True, before_sleep=self._retrying)
        return retrying(self._attempt, what, op)

    def _attempt(self, what: str, op: Callable[[paramiko.SFTPClient], T]) -> T:
        try:
            return op(self._connect())
        except TransferError:
            raise
        except (OSError, EOFError, paramiko.SSHException, paramiko.SFTPError) as e:
            full = disk_full(e) if isinstance(e, OSError) else None
            if full is not None:  # our own disk (the server's shows as a failure)
                raise DiskFull(f"{self.label}: {what}: {full}") from None
            err = self.translate(e, what)
            if isinstance(err, RetryableTransferError):
                self.close()  # state unknown: the next try starts on a fresh connection
            # ``from None``: the original's text may hold what we must not log.
            raise err from None

    def _retrying(self, state: tenacity.RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        log.warning("%s; try %d of %d failed, next in %.1fs", err, state.attempt_number,
                    self.server.retry.attempts, wait)

    def translate(self, e: BaseException, what: str) -> TransferError:
        """A foreign exception as a TransferError typed by remedy, secrets scrubbed."""
        s, where = self.server, f"{self.label}: {what}"
        if isinstance(e, paramiko.BadHostKeyException):
            msg = (f"{self.label}: HOST KEY CHANGED: {s.known_hosts} pins "
                   f"{hostkeys.describe(e.expected_key)} but the server now shows "
                   f"{hostkeys.describe(e.key)}. This may be an attack. If the server's key "
                   "was really replaced, check the new fingerprint with its administrator "
                   "and run 'filebridge trust PROFILE --replace'")
            return HostKeyChanged(self._scrub(msg))
        if isinstance(e, paramiko.AuthenticationException):
            # Retryable: a server restarting or at MaxStartups refuses logins for a while.
            tried = ", ".join(f"{k} {v.describe()}" for k, v in
                              (("key", s.key), ("password", s.password)) if v is not None)
            return RetryableTransferError(f"{where}: login refused for user {s.user} "
                                          f"(tried {tried})")
        if isinstance(e, (paramiko.ssh_exception.NoValidConnectionsError,
                          ConnectionRefusedError)):
            return RetryableTransferError(f"{where}: cannot connect ({_text(e)})")
        if isinstance(e, (socket.timeout, TimeoutError)):
            return RetryableTransferError(f"{where}: no answer (timed out)")
        if isinstance(e, OSError) and e.errno in (errno.ENOENT, errno.EACCES, errno.EPERM):
            why = "no such file or folder" if e.errno == errno.ENOENT else "permission denied"
            return PermanentTransferError(self._scrub(f"{where}: {why}"))
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return RetryableTransferError(f"{where}: local disk full")
        if isinstance(e, (EOFError, ConnectionError, paramiko.SSHException)):
            kind, text = type(e).__name__, _text(e)
            detail = kind if text in ("", kind) else f"{kind}: {text}"
            return RetryableTransferError(self._scrub(
                f"{where}: connection lost or refused ({detail})"))
        return RetryableTransferError(self._scrub(f"{where}: {_text(e)}"))

    def _scrub(self, text: str) -> str:
        """Defence in depth: no revealed secret survives into a message."""
        for secret in (self.server.password, self.server.passphrase):
            if secret is not None:
                try:
                    value = secret.reveal()
                except LookupError:
                    continue
                if value:
                    text = text.replace(value, "***")
        return text

    # the connection --------------------------------------------------------------
    def _connect(self) -> paramiko.SFTPClient:
        if self._sftp is not None:
            chan = self._sftp.get_channel()
            if chan is not None and not chan.closed and chan.get_transport().is_active():
                return self._sftp
            self.close()
        s = self.server
        hostkeys.load(s.known_hosts)  # a clear error when it is missing or unreadable
        client = paramiko.SSHClient()
        client.get_host_keys().load(str(s.known_hosts))
        client.set_missing_host_key_policy(_Refuse(self.label, s.known_hosts))
        try:
            client.connect(
                s.host, s.port, username=s.user, pkey=self._key(), password=self._password(),
                timeout=s.connect_timeout, banner_timeout=s.connect_timeout,
                auth_timeout=s.connect_timeout, channel_timeout=s.connect_timeout,
                allow_agent=False, look_for_keys=False,  # only what the profile names
                # types-paramiko's _TransportFactory wants gss_kex and gss_deleg_creds
                # too; paramiko 5.1 passes only (sock, disabled_algorithms=)
                # (paramiko 5.1.0 paramiko/client.py, SSHClient.connect)
                disabled_algorithms=algorithms(s),
                transport_factory=_transport)  # type: ignore[arg-type]
            transport = client.get_transport()
            if transport is None:
                raise Bug("expected a transport once connect() returned")
            sftp = paramiko.SFTPClient.from_transport(
                transport, window_size=WINDOW, max_packet_size=PACKET)
            if sftp is None:
                raise paramiko.SSHException("the server refused the sftp subsystem")
            chan = sftp.get_channel()
            if chan is None:
                raise Bug("expected the sftp client's channel")
            chan.settimeout(s.timeout)
        except BaseException:
            client.close()
            raise
        self._client, self._sftp = client, sftp
        self.read_size, self.write_size = _limits(sftp)
        for tmp in list(self._orphans):  # from a try whose connection dropped
            _quietly(sftp.remove, tmp)
        self._orphans.clear()
        return sftp

    def _password(self) -> str | None:
        try:
            return self.server.password.reveal() if self.server.password else None
        except LookupError as e:  # e.g. the variable was unset since the profile loaded
            raise PermanentTransferError(f"{self.label}: password: {e}") from None

    def _key(self) -> paramiko.PKey | None:
        s = self.server
        if s.key is None or self._pkey is not None:
            return self._pkey
        try:
            text = s.key.reveal() + "\n"  # reveal() strips the newline PEM needs
            passphrase = s.passphrase.reveal() if s.passphrase else None
        except LookupError as e:
            raise PermanentTransferError(f"{self.label}: {e}") from None
        for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                self._pkey = cls.from_private_key(io.StringIO(text), password=passphrase)
                return self._pkey
            except paramiko.PasswordRequiredException:
                raise PermanentTransferError(
                    f"{self.label}: the key {s.key.describe()} is encrypted: give its "
                    "passphrase (passphrase: ${VAR} or file:PATH)") from None
            except (paramiko.SSHException, ValueError, TypeError, IndexError):
                continue
        raise PermanentTransferError(
            f"{self.label}: the key {s.key.describe()} is not a usable private key "
            "(OpenSSH or PEM; ed25519, ecdsa or rsa), or its passphrase is wrong")

    def close(self) -> None:
        sftp, client, self._sftp, self._client = self._sftp, self._client, None, None
        for closable in (sftp, client):
            if closable is not None:
                _quietly(closable.close)

    # operations ------------------------------------------------------------------
    def listdir(self, folder: str) -> list[paramiko.SFTPAttributes]:
        return self.run(f"list {folder}", lambda sftp: sftp.listdir_attr(folder))

    def stat(self, path: str) -> paramiko.SFTPAttributes | None:
        def op(sftp: paramiko.SFTPClient) -> paramiko.SFTPAttributes | None:
            try:
                return sftp.stat(path)
            except FileNotFoundError:
                return None
        return self.run(f"stat {path}", op)

    def rename(self, src: str, dst: str, *, attempts: int | None = None) -> None:
        """Plain SFTP rename: refuses to overwrite, which is what a claim needs."""
        self.run(f"rename {src} to {dst}", lambda sftp: sftp.rename(src, dst),
                 attempts=attempts)

    def remove(self, path: str) -> None:
        def op(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.remove(path)
            except FileNotFoundError:
                pass  # already gone: a retry after a drop that came after the remove
        self.run(f"remove {path}", op)

    def makedirs(self, folder: str) -> None:
        def op(sftp: paramiko.SFTPClient) -> None:
            parts = [p for p in folder.split("/") if p not in ("", ".")]
            path = "/" if folder.startswith("/") else ""
            for part in parts:
                path = posixpath.join(path, part) if path else part
                try:
                    sftp.stat(path)
                except FileNotFoundError:
                    sftp.mkdir(path)
        self.run(f"create folder {folder}", op)

    def read_small(self, path: str, limit: int = 64 << 10) -> bytes:
        def op(sftp: paramiko.SFTPClient) -> bytes:
            with sftp.open(path, "rb") as f:
                return f.read(limit)
        return self.run(f"read {path}", op)

    def download(self, remote: str, local: Path) -> paramiko.SFTPAttributes:
        """``remote`` into ``local`` (rewritten on every try). Returns the remote
        attributes it was read with; raises unless exactly that many bytes arrived."""
        def op(sftp: paramiko.SFTPClient) -> paramiko.SFTPAttributes:
            with sftp.open(remote, "rb") as f, open(local, "wb") as out:
                attrs = f.stat()
                # paramiko's request size is a class constant (32 KiB); the server's
                # own limit (limits@openssh.com) cuts round trips and Python per byte.
                f.MAX_REQUEST_SIZE = self.read_size
                f.prefetch(attrs.st_size, max_concurrent_requests=PREFETCH)
                while chunk := f.read(CHUNK):
                    out.write(chunk)
            got = local.stat().st_size
            if got != attrs.st_size:
                raise RetryableTransferError(f"{self.label}: download {remote}: {got} of "
                                             f"{attrs.st_size} bytes arrived")
            return attrs
        return self.run(f"download {remote}", op)

    def upload(self, local: Path, final: str, done: str | None = None) -> None:
        """``local`` to ``final``: under a hidden temporary name, then renamed over
        ``final`` in one step, then the (empty) ``done`` file. Whatever fails, no
        partial file ever carries the final name."""
        tmp = posixpath.join(posixpath.dirname(final),
                             f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{posixpath.basename(final)}")
        size = local.stat().st_size

        def op(sftp: paramiko.SFTPClient) -> None:
            self._orphans.add(tmp)
            try:
                with open(local, "rb") as src, sftp.open(tmp, "wb") as f:
                    f.MAX_REQUEST_SIZE = self.write_size
                    f.set_pipelined(True)
                    while chunk := src.read(CHUNK):
                        f.write(chunk)
                got = sftp.stat(tmp).st_size
                if got != size:
                    raise RetryableTransferError(f"{self.label}: upload {final}: {got} of "
                                                 f"{size} bytes arrived")
                self._replace(sftp, tmp, final)
            except BaseException:
                _quietly(sftp.remove, tmp)  # when the connection still works
                raise
            self._orphans.discard(tmp)
            if done:
                sftp.open(done, "wb").close()
        self.run(f"upload {final}", op)

    def write_bytes(self, final: str, data: bytes) -> None:
        """A small file (a report), published like an upload: temporary, then rename."""
        tmp = posixpath.join(posixpath.dirname(final),
                             f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{posixpath.basename(final)}")

        def op(sftp: paramiko.SFTPClient) -> None:
            try:
                with sftp.open(tmp, "wb") as f:
                    f.write(data)
                self._replace(sftp, tmp, final)
            except BaseException:
                _quietly(sftp.remove, tmp)
                raise
        self.run(f"write {final}", op)

    def _replace(self, sftp: paramiko.SFTPClient, src: str, dst: str) -> None:
        if not self._no_posix_rename:
            try:
                # Atomic replace (OpenSSH extension). Plain SFTP rename fails when the
                # target exists, so a re-delivery would otherwise fail.
                sftp.posix_rename(src, dst)
                return
            except OSError as e:
                if "unsupported" not in _text(e).lower():
                    raise
            self._no_posix_rename = True
            log.warning("%s: the server has no posix-rename; replacing files by remove "
                        "then rename (readers may briefly miss a file, never see it partial)",
                        self.label)
        try:
            sftp.remove(dst)
        except FileNotFoundError:
            pass
        sftp.rename(src, dst)


def _limits(sftp: paramiko.SFTPClient) -> tuple[int, int]:
    """The server's read and write request limits (limits@openssh.com), capped."""
    try:
        # paramiko has no call for this extension; the request itself is public SFTP.
        from paramiko.sftp import CMD_EXTENDED, CMD_EXTENDED_REPLY

        t, msg = sftp._request(  # type: ignore[attr-defined]  # private: not in the stubs
            CMD_EXTENDED, "limits@openssh.com")
        if t == CMD_EXTENDED_REPLY and msg is not None:
            msg.get_int64()  # max packet length
            sizes = (msg.get_int64(), msg.get_int64())
            # 0 means "no limit": still cap it, to bound the memory in flight.
            read, write = (min(v, MAX_REQUEST) if v else MAX_REQUEST for v in sizes)
            return read, write
    except (OSError, EOFError, paramiko.SSHException):
        pass  # not offered: keep SFTP's conservative default
    return DEFAULT_REQUEST, DEFAULT_REQUEST


def _text(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e.args[0]).rstrip(": ") if e.args else type(e).__name__


def _quietly(fn: Callable[..., Any], *args: Any) -> None:
    """Best-effort cleanup: the connection may already be gone."""
    try:
        fn(*args)
    except Exception:
        pass
