"""An SFTP server that misbehaves on demand, for the fault tests: asyncssh, in
process, in a thread with its own event loop, serving a folder (chrooted).

Faults (set on ``server.faults`` at any time, they apply to the next requests):
drop the connection after N bytes read or written (for the next K connections),
slow every write down, refuse renames, refuse the next N logins, list extra
hostile names. ``restart()`` stops and starts it on the same port.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

PASSWORD = "pw-Zx81-never-logged"


@dataclass
class Faults:
    drop_read_after: int | None = None   # bytes served per connection, then abort it
    drop_write_after: int | None = None  # bytes received per connection, then abort it
    drops: int = 1                       # how many connections to drop that way
    read_delay: float = 0.0              # seconds of sleep before each read request
    write_delay: float = 0.0             # seconds of sleep before each write request
    refuse_rename: bool = False          # rename and posix-rename: permission denied
    refuse_logins: int = 0               # refuse this many logins (key or password)
    extra_names: list[str] = field(default_factory=list)  # listed in every folder
    logins: int = 0                      # counters, for assertions
    reads: int = 0
    dropped: int = 0


class _Server(asyncssh.SSHServer):
    def __init__(self, faults: Faults, client_key: asyncssh.SSHKey, conns: set[Any]):
        self.faults, self.client_key, self.conns = faults, client_key, conns

    def connection_made(self, conn: Any) -> None:
        self.conns.add(conn)


    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def _allow(self, ok: bool) -> bool:
        self.faults.logins += 1
        if self.faults.refuse_logins > 0:
            self.faults.refuse_logins -= 1
            return False
        return ok

    def validate_password(self, username: str, password: str) -> bool:
        return self._allow(password == PASSWORD)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return self._allow(key.public_data == self.client_key.public_data)


class _Sftp(asyncssh.SFTPServer):
    def __init__(self, chan: Any, root: Path, faults: Faults):
        super().__init__(chan, chroot=str(root).encode())
        self.faults = faults
        self.read_bytes = self.written = 0

    def _drop(self) -> None:
        self.faults.drops -= 1
        self.faults.dropped += 1
        self.channel.get_connection().abort()

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        f = self.faults
        f.reads += 1
        if f.read_delay:
            await asyncio.sleep(f.read_delay)
        if f.drop_read_after is not None and f.drops > 0 and \
                self.read_bytes + size > f.drop_read_after:
            self._drop()
            await asyncio.sleep(3600)  # the client sees the connection go, not an answer
        data = super().read(file_obj, offset, size)
        self.read_bytes += len(data)  # type: ignore[arg-type]
        return data  # type: ignore[return-value]

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        f = self.faults
        if f.write_delay:
            await asyncio.sleep(f.write_delay)
        if f.drop_write_after is not None and f.drops > 0 and \
                self.written + len(data) > f.drop_write_after:
            self._drop()
            await asyncio.sleep(3600)
        self.written += len(data)
        return super().write(file_obj, offset, data)  # type: ignore[return-value]

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        if self.faults.refuse_rename:
            raise asyncssh.SFTPPermissionDenied("renames are not allowed here")
        super().rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        if self.faults.refuse_rename:
            raise asyncssh.SFTPPermissionDenied("renames are not allowed here")
        super().posix_rename(oldpath, newpath)

    async def scandir(self, path: bytes):
        async for name in super().scandir(path):
            yield name
        for raw in self.faults.extra_names:
            attrs = asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_REGULAR, size=12,
                                       permissions=0o100644, mtime=int(time.time()) - 3600)
            yield asyncssh.SFTPName(raw.encode(), attrs=attrs)


class FaultServer:
    def __init__(self, root: Path, folder: Path):
        self.root, self.folder = root, folder
        root.mkdir(parents=True, exist_ok=True)
        self.faults = Faults()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_file = folder / "client_ed25519"
        self.client_key.write_private_key(str(self.client_key_file))
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._listener: Any = None
        self._conns: set[Any] = set()
        self.start()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def start(self) -> None:
        async def listen() -> Any:
            return await asyncssh.listen(
                "127.0.0.1", self.port, server_host_keys=[self.host_key],
                server_factory=lambda: _Server(self.faults, self.client_key, self._conns),
                sftp_factory=lambda chan: _Sftp(chan, self.root, self.faults),
                allow_scp=False, reuse_address=True)
        self._listener = self._call(listen())
        self.port = self._listener.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close the listener and every open connection (a server going down)."""
        async def close() -> None:
            self._listener.close()
            for conn in list(self._conns):  # asyncssh keeps them open otherwise
                conn.abort()
            self._conns.clear()
            await self._listener.wait_closed()
        if self._listener is not None:
            self._call(close())
            self._listener = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def shutdown(self) -> None:
        self.stop()

        async def cancel() -> None:  # handlers still parked in a fault's sleep
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._call(cancel())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def known_hosts_line(self) -> str:
        pub = self.host_key.export_public_key().decode().split()[:2]
        return f"[127.0.0.1]:{self.port} {' '.join(pub)}\n"

    def server(self, known_hosts: Path, **extra: object) -> dict[str, object]:
        """The connection part of a profile's sftp source or destination."""
        return {"kind": "sftp", "host": "127.0.0.1", "port": self.port, "user": "erp",
                "key": f"file:{self.client_key_file}", "known_hosts": str(known_hosts),
                "connect_timeout": "5s", "timeout": "5s",
                "retry": {"attempts": 2, "wait": "0.05s"}, **extra}
