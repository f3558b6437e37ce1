"""Accounts of the rating app: users and roles, argon2 passwords, sessions, login rate limits.

No web framework here: the CLI (`assay users`) and the server share these functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from assay import records as R
from assay.errors import AssayError, BadInput, NotFound
from assay.store import Store
from assay.store import rating as S

ROLES = ("rater", "lead", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
MIN_PASSWORD = 8
SESSION_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class LoginLimits:
    """How many password checks may run, counted before each check (so racing guesses count too).

    ``per_name``: checks of one account's password per window, from anywhere. ``per_address_name``:
    of those, how many one address may use, so that one attacker cannot by themselves lock the
    owner out. Both windows start at the first check; a window that ended full makes the next
    one twice as long, up to ``longest`` (backoff), and a right password starts both afresh.
    ``per_address``: a high ceiling on failed checks from one address over all names (a whole
    office behind one NAT shares it), with a fixed window.
    """

    per_name: int = 5
    per_address_name: int = 3
    per_address: int = 300
    window: timedelta = timedelta(minutes=15)
    longest: timedelta = timedelta(hours=24)


LIMITS = LoginLimits()

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
    """Disable (or enable) an account; BadInput for the last enabled admin, who cannot be disabled."""
    if disabled:
        _kept_an_admin(S.demote_user(store, name, disabled=True), name, "disabled")
    elif not S.set_user(store, name, disabled=False):
        raise NotFound(f"no user {name!r}")


def set_role(store: Store, name: str, role: str) -> None:
    """Change a user's role; BadInput when that would leave no enabled admin."""
    if role not in ROLES:
        raise BadInput(f"role must be one of {list(ROLES)}, not {role!r}", field="role")
    if role == "admin":
        if not S.set_user(store, name, role=role):
            raise NotFound(f"no user {name!r}")
        return
    _kept_an_admin(S.demote_user(store, name, role=role), name, f"made {role}")


def _kept_an_admin(outcome: str, name: str, what: str) -> None:
    if outcome == "missing":
        raise NotFound(f"no user {name!r}")
    if outcome == "last admin":
        raise BadInput(f"{name} is the last admin and cannot be {what}: make another user admin first", field="name")


def list_users(store: Store) -> list[dict[str, Any]]:
    return [{k: v for k, v in u.items() if k != "password_hash"} for u in S.list_users(store)]


_DUMMY: str | None = None


def _limit_keys(name: str, address: str, limits: LoginLimits) -> list[tuple[str, int, float, float]]:
    """The counters of one login, in the order every check takes them (address first)."""
    first, longest = limits.window.total_seconds(), limits.longest.total_seconds()
    who = name.lower()[:100]
    keys = [(f"ip:{address}", limits.per_address, first, first),
            (f"pair:{address}|{who}", limits.per_address_name, first, longest)] if address else []
    return [*keys, (f"user:{who}", limits.per_name, first, longest)]


def authenticate(store: Store, name: str, password: str, *, address: str = "", limits: LoginLimits = LIMITS,
                 now: datetime | None = None) -> User | None:
    """The user when the password is right; None when wrong; RateLimited when a limit is reached.

    The check is counted in the store (per name, per address and name, per address) before the
    password is verified, in one atomic step, so every server worker and every concurrent
    request sees the same count; a refused login checks no password and counts nothing.
    """
    global _DUMMY
    at = now or R.utcnow()
    keys = _limit_keys(name, address, limits)
    full = S.reserve_login_check(store, keys, at.timestamp())
    if full is not None:
        wait = max(1, math.ceil((full[1] - at.timestamp()) / 60))
        raise RateLimited(f"too many failed logins; wait {wait} minute{'s' if wait > 1 else ''} and try again")
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
    S.record_login_attempt(store, [keys[-1][0]] + ([keys[0][0]] if address else []), ok, at)
    if not ok or row is None:  # a right password implies a stored user
        return None
    # a right password: the name's counters start afresh; the address's ceiling counts failures only
    S.login_succeeded(store, reset=[k for k, *_ in keys[1 if address else 0:]],
                      give_back=[keys[0][0]] if address else [])
    return User(name=row["name"], role=row["role"], rater_id=row["rater_id"])


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
