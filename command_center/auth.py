"""Who is calling: agency API keys for feeds, operator accounts and bearer tokens for the console.

Framework-free: the routes and the CLI call these functions with a database session.
API keys are high-entropy random strings, so a SHA-256 digest is a safe stored form; passwords are
low-entropy, so they get scrypt with a per-user salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.db.models import AgencyRow, ApiKeyRow, SecretRow, UserRow
from infra.errors import AuthenticationFailed, Conflict, NotFound, ValidationFailed
from streams.domain import Domain, new_id, utcnow

KEY_PREFIX = "lk_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class Role(StrEnum):
    ADMIN = "admin"
    COMMANDER = "commander"
    OPERATOR = "operator"
    LIAISON = "liaison"
    DUTY = "duty"


@dataclass(frozen=True, slots=True)
class AgencyPrincipal:
    """An authenticated agency system, allowed to push into ``domains`` only."""

    agency: str
    domains: frozenset[Domain]
    key_id: str


@dataclass(frozen=True, slots=True)
class UserPrincipal:
    user_id: str
    username: str
    role: Role
    agency: str | None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_domains(text: str | None) -> list[Domain]:
    if not text:
        return []
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in Domain.__members__.values()]
    if unknown:
        known = ", ".join(d.value for d in Domain)
        raise ValidationFailed(f"unknown domain(s) {', '.join(unknown)}; known: {known}")
    return [Domain(name) for name in names]


def create_key(
    session: Session, agency: str, domains: list[Domain] | None = None
) -> tuple[str, ApiKeyRow]:
    """Make a new key for ``agency``; default domains are the agency's own. Returns the key once."""
    row = session.get(AgencyRow, agency)
    if row is None:
        known = ", ".join(sorted(session.scalars(select(AgencyRow.code))))
        raise NotFound(f"unknown agency {agency!r}; known agencies: {known}")
    chosen = [d.value for d in domains] if domains else list(row.domains)
    if not chosen:
        raise ValidationFailed(
            f"agency {agency!r} has no default feed domains; name them with --domains"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_row = ApiKeyRow(
        id=new_id(),
        agency=agency,
        prefix=key[:10],
        key_hash=digest(key),
        domains=chosen,
        created_at=utcnow(),
    )
    session.add(key_row)
    return key, key_row


def revoke_key(session: Session, key_id: str) -> None:
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def verify_key(session: Session, key: str | None) -> AgencyPrincipal:
    if not key:
        raise AuthenticationFailed("missing X-API-Key header")
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest(key)))
    # A rotated key carries its end in revoked_at (the grace period): valid until then.
    if row is None or (row.revoked_at is not None and row.revoked_at <= utcnow()):
        raise AuthenticationFailed("invalid or revoked API key")
    return AgencyPrincipal(row.agency, frozenset(Domain(d) for d in row.domains), row.id)


class KeyCache:
    """Remembers verified keys briefly so that busy feeds do not hit the database per request.

    Revocation takes effect within ``ttl_s``; unknown keys are never cached.
    """

    def __init__(self, ttl_s: float = 10.0) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, AgencyPrincipal]] = {}

    def get(self, key: str) -> AgencyPrincipal | None:
        entry = self._entries.get(digest(key))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, principal: AgencyPrincipal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest(key)] = (time.monotonic() + self.ttl_s, principal)


# --- operators ---------------------------------------------------------------------------


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${derived.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, derived_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    derived = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(derived.hex(), derived_hex)


def create_user(
    session: Session, username: str, role: str, password: str, agency: str | None = None
) -> UserRow:
    if role not in Role.__members__.values():
        raise ValidationFailed(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}")
    if len(password) < 8:
        raise ValidationFailed("a password has at least 8 characters")
    if agency is not None and session.get(AgencyRow, agency) is None:
        raise NotFound(f"unknown agency {agency!r}")
    if session.scalar(select(UserRow).where(UserRow.username == username)) is not None:
        raise Conflict(f"user {username!r} exists")
    row = UserRow(
        id=new_id(),
        username=username,
        role=role,
        agency=agency,
        password_hash=hash_password(password),
        created_at=utcnow(),
    )
    session.add(row)
    return row


def authenticate(session: Session, username: str, password: str) -> UserPrincipal:
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    # Check a password even for unknown users so that timing does not reveal who exists.
    stored = row.password_hash if row is not None else hash_password("not-a-user-password")
    if not check_password(password, stored) or row is None or row.disabled_at is not None:
        raise AuthenticationFailed("wrong username or password")
    return UserPrincipal(row.id, row.username, Role(row.role), row.agency)


# --- bearer tokens -----------------------------------------------------------------------


def signing_secret(session: Session, configured: str | None) -> bytes:
    """The configured secret, else one generated once and shared through the database."""
    if configured:
        return configured.encode()
    row = session.get(SecretRow, "token-signing")
    if row is None:
        row = SecretRow(name="token-signing", value=secrets.token_hex(32), created_at=utcnow())
        session.add(row)
        session.flush()
    return row.value.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(user: UserPrincipal, secret: bytes, ttl_s: int) -> str:
    payload = {
        "sub": user.user_id,
        "name": user.username,
        "role": user.role.value,
        "agency": user.agency,
        "exp": int(time.time()) + ttl_s,
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def read_token(token: str | None, secret: bytes) -> UserPrincipal:
    if not token:
        raise AuthenticationFailed("missing bearer token")
    try:
        body, signature = token.split(".")
        expected = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            raise AuthenticationFailed("invalid token")
        payload = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError):
        raise AuthenticationFailed("invalid token") from None
    if int(payload.get("exp", 0)) < time.time():
        raise AuthenticationFailed("token expired; sign in again")
    return UserPrincipal(payload["sub"], payload["name"], Role(payload["role"]), payload["agency"])
