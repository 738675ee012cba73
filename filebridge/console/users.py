"""Console users: a file of ``name:role:argon2-hash`` lines, named by ``serve --users``
or $FILEBRIDGE_CONSOLE_USERS (never by a profile: profiles hold no secrets). Make a
line with ``filebridge console-user NAME --role operator``. Passwords are hashed with
Argon2id (argon2-cffi); a wrong name costs the same hash as a wrong password."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from filebridge.errors import ProfileError

ROLES = ("viewer", "operator")
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password")  # verified against for unknown names


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def operator(self) -> bool:
        return self.role == "operator"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def line(name: str, role: str, password: str) -> str:
    if role not in ROLES or not name or ":" in name:
        raise ValueError(f"a user needs a name without ':' and a role among {', '.join(ROLES)}")
    return f"{name}:{role}:{hash_password(password)}"


class Users:
    def __init__(self, entries: dict[str, tuple[str, str]]):
        self._entries = entries  # name -> (role, hash)

    @classmethod
    def load(cls, path: Path) -> Users:
        entries: dict[str, tuple[str, str]] = {}
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ProfileError(f"{path}: cannot read the console's users ({e.strerror or e})"
                               ) from None
        for n, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            parts = raw.strip().split(":", 2)
            if len(parts) != 3 or parts[1] not in ROLES or not parts[2].startswith("$argon2"):
                raise ProfileError(f"{path}, line {n}: expected name:role:argon2-hash with a "
                                   f"role among {', '.join(ROLES)} (make one with "
                                   "filebridge console-user)")
            entries[parts[0]] = (parts[1], parts[2])
        if not entries:
            raise ProfileError(f"{path}: no console users")
        return cls(entries)

    def check(self, name: str, password: str) -> User | None:
        role, stored = self._entries.get(name, ("", _DUMMY))
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(name, role) if role else None

    def role(self, name: str) -> str | None:
        """A logged-in user's current role (None: removed from the file since)."""
        entry = self._entries.get(name)
        return entry[0] if entry else None
