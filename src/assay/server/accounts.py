"""Accounts of the rating app: users and roles, argon2 passwords, sessions, login rate limits.

No web framework here: the CLI (`assay users`) and the server share these functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from assay import records as R
from assay.errors import AssayError, BadInput, NotFound
from assay.store import Store
from assay.store import app as S

ROLES = ("rater", "lead", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
MIN_PASSWORD = 8
SESSION_TTL = timedelta(hours=12)
# A name is locked after this many failures in the window; an address after IP_FAILURES.
USER_FAILURES, IP_FAILURES, WINDOW = 5, 30, timedelta(minutes=15)

_hasher = None


def _ph():
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
    return _hasher


class RateLimited(AssayError):
    """Too many failed logins for this name or address; try again later."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    rater_id: str
    csrf_token: str = ""

    @property
    def is_lead(self) -> bool:
        return self.role in ("lead", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadInput(f"a password needs at least {MIN_PASSWORD} characters", field="password")
    return _ph().hash(password)


def create_user(store: Store, name: str, password: str | None = None, *, role: str = "rater",
                password_hash: str | None = None) -> User:
    """Add an account (and its human rater); BadInput if the name is taken or invalid."""
    if not NAME_RE.match(name or ""):
        raise BadInput("a user name is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
                       field="name")
    if role not in ROLES:
        raise BadInput(f"role must be one of {list(ROLES)}, not {role!r}", field="role")
    if password_hash is None:
        if password is None:
            raise BadInput("a password is required", field="password")
        password_hash = hash_password(password)
    rater = R.Rater(id=R.Rater.make_id("human", name), kind="human", name=name)
    with store.transaction() as c:
        if not S.insert_user(store, {"name": name, "role": role, "password_hash": password_hash,
                                     "rater_id": rater.id, "disabled": False, "created_at": R.utcnow()}, conn=c):
            raise BadInput(f"user {name!r} already exists", field="name")
        store.add([rater], conn=c)
    return User(name=name, role=role, rater_id=rater.id)


def set_password(store: Store, name: str, password: str) -> None:
    if not S.set_user(store, name, password_hash=hash_password(password)):
        raise NotFound(f"no user {name!r}")


def set_disabled(store: Store, name: str, disabled: bool = True) -> None:
    if not S.set_user(store, name, disabled=disabled):
        raise NotFound(f"no user {name!r}")


def set_role(store: Store, name: str, role: str) -> None:
    if role not in ROLES:
        raise BadInput(f"role must be one of {list(ROLES)}, not {role!r}", field="role")
    if not S.set_user(store, name, role=role):
        raise NotFound(f"no user {name!r}")


def list_users(store: Store) -> list[dict[str, Any]]:
    return [{k: v for k, v in u.items() if k != "password_hash"} for u in S.list_users(store)]


_DUMMY: str | None = None


def authenticate(store: Store, name: str, password: str, *, address: str = "") -> User | None:
    """The user when the password is right; None when wrong; RateLimited after too many failures.

    Failures are counted in the store, per name and per client address, so every server
    worker enforces the same limit. A locked name is refused before its password is checked.
    """
    global _DUMMY
    now = R.utcnow()
    keys = [f"user:{name.lower()[:100]}"] + ([f"ip:{address}"] if address else [])
    fails = S.failed_logins(store, keys, now - WINDOW)
    if fails.get(keys[0], 0) >= USER_FAILURES or (address and fails.get(keys[-1], 0) >= IP_FAILURES):
        raise RateLimited("too many failed logins; wait 15 minutes and try again")
    row = S.get_user(store, name)
    ok = False
    if row is None or row["disabled"]:
        if _DUMMY is None:
            _DUMMY = _ph().hash("not a password of anyone")
        # the same work as a real check, so timing does not tell which names exist
        with contextlib.suppress(Exception):
            _ph().verify(_DUMMY, password)
    else:
        try:
            ok = _ph().verify(row["password_hash"], password)
        except Exception:  # noqa: BLE001
            ok = False
    S.record_login_attempt(store, keys, ok, now)
    if not ok:
        return None
    return User(name=row["name"], role=row["role"], rater_id=row["rater_id"])  # type: ignore[index]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, user: User, ttl: timedelta = SESSION_TTL) -> tuple[str, str]:
    """A new session for a user: (cookie token, CSRF token). Only the token's hash is stored."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = R.utcnow()
    S.insert_session(store, {"token_hash": token_hash(token), "user_name": user.name, "csrf_token": csrf,
                             "created_at": now, "expires_at": now + ttl})
    return token, csrf


def session_user(store: Store, token: str | None) -> User | None:
    """The signed-in user of a session cookie, or None (unknown, expired, logged out, disabled)."""
    if not token or len(token) > 200:
        return None
    return user_of_session(S.session_user(store, token_hash(token)))


def user_of_session(row: dict[str, Any] | None) -> User | None:
    """The user of a session row (csrf_token, expires_at, name, role, rater_id, disabled), or None
    when there is no row, the session expired or the account is disabled."""
    if row is None or row["disabled"]:
        return None
    expires = row["expires_at"]
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires <= R.utcnow():
        return None
    return User(name=row["name"], role=row["role"], rater_id=row["rater_id"], csrf_token=row["csrf_token"])


def end_session(store: Store, token: str | None) -> None:
    if token:
        S.delete_session(store, token_hash(token))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
