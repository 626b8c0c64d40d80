"""Who may do what: sign-in modes, users and roles, personal API tokens, and the one `require(role)` check.

`RESHOOT_AUTH` picks how a person is known: `none` (one person on one machine: the local user, servers bind
loopback only), `oidc` (the dashboard's `st.login`; the API takes personal tokens) or `proxy` (an SSO proxy in
front sends oauth2-proxy's `X-Forwarded-Email` / `-User` / `-Groups`, trusted only from `RESHOOT_TRUSTED_PROXIES`).
The dashboard, the API and the CLI turn that person into an `Actor` and run use cases inside `acting_as(actor)`;
the use cases check `require(role)` themselves (the `requires` decorator), so every way in enforces one set of rules.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.audit import AuditAction, Target, record
from services.config import get_settings
from services.db import session_scope
from services.enums import AuditTargetKind
from services.errors import ReshootError, invalid_request
from services.identity import Actor, Role, acting_as, current_actor
from services.models import ApiToken, User, iso, utcnow
from services.options import Options
from services.read_models.auth import NewToken, TokenPublic, UserPublic

P = ParamSpec("P")
T = TypeVar("T")

TOKEN_PREFIX = "rsh_"
LAST_SEEN_EVERY = timedelta(seconds=60)  # a page run or request writes last seen / last used at most this often


class AuthMode(StrEnum):
    none = "none"
    oidc = "oidc"
    proxy = "proxy"


def auth_mode() -> AuthMode:
    return AuthMode(get_settings().auth)


# --- The one check ---------------------------------------------------------------------------------------------


def unauthenticated(reason: str) -> ReshootError:
    return ReshootError("UNAUTHENTICATED", 401, {"reason": reason}, f"Sign in first: {reason}")


def why_not(role: Role, actor: Actor | None = None) -> str | None:
    """Why `actor` (default: the current one) may not do what needs `role`; None if they may."""
    actor = actor or current_actor()
    if actor.role.allows(role):
        return None
    return f"Needs the {role} role; you are a {actor.role}. An admin can change roles on Settings."


def require(role: Role, actor: Actor | None = None) -> Actor:
    """The current actor if their role allows `role`; 403 FORBIDDEN otherwise."""
    actor = actor or current_actor()
    reason = why_not(role, actor)
    if reason:
        raise ReshootError("FORBIDDEN", 403, {"needs": str(role), "role": str(actor.role), "user": actor.email}, reason)
    return actor


def requires(role: Role) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a use case: it runs only for an actor whose role allows `role`."""

    def decorate(use_case: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(use_case)
        def checked(*args: P.args, **kwargs: P.kwargs) -> T:
            require(role)
            return use_case(*args, **kwargs)

        return checked

    return decorate


# --- Where servers may listen ----------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unsafe_bind_message(host: str, *, server: str) -> str | None:
    """Why `server` must not listen on `host` under the current auth mode; None if it may."""
    if auth_mode() is not AuthMode.none or is_loopback(host):
        return None
    shown = host or "all interfaces"
    return (
        f"Refusing to start the {server} on {shown}: RESHOOT_AUTH=none has no sign-in, so anyone who can reach "
        "that address could regenerate, upload and delete. Listen on 127.0.0.1 only, or turn sign-in on: "
        "RESHOOT_AUTH=oidc (Streamlit's st.login; [auth] in .streamlit/secrets.toml) or RESHOOT_AUTH=proxy "
        "(behind an SSO proxy; set RESHOOT_TRUSTED_PROXIES). README: Sign-in and roles."
    )


# --- Users -----------------------------------------------------------------------------------------------------


EMAIL_MESSAGE = "A user's email (or user name): 1-255 characters, no spaces"


def _email_or_none(email: str | None) -> str | None:
    value = (email or "").strip().lower()
    if not value or len(value) > 255 or any(ord(ch) < 32 or ch.isspace() for ch in value):
        return None
    return value


def normalise_email(email: str, *, field: str = "email") -> str:
    value = _email_or_none(email)
    if value is None:
        raise invalid_request([{"field": field, "message": EMAIL_MESSAGE}])
    return value


def _checked_email(value: str) -> str:
    email = _email_or_none(value)
    if email is None:
        raise ValueError(EMAIL_MESSAGE)
    return email


def _checked_role(value: object) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise ValueError(f"One of {', '.join(Role)}") from None


# A user's email in any case, stored lower-case; a role by its name (the CLI and forms give names).
Email = Annotated[str, AfterValidator(_checked_email)]
RoleName = Annotated[Role, Field(strict=False), BeforeValidator(_checked_role)]


class NewUser(Options):
    """A user added by an admin before their first sign-in."""

    email: Email
    name: str = ""
    role: RoleName = Role.viewer

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return value.strip()[:255]


class SetRoleOptions(Options):
    email: Email
    role: RoleName


class SetDisabledOptions(Options):
    email: Email
    disabled: bool = True


class CreateTokenOptions(Options):
    user_email: Email | None = None  # default: yourself; someone else's needs admin
    name: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return value.strip()[:128]


class ListTokensOptions(Options):
    user_email: Email | None = None  # default: yourself; someone else's (or everyone's) needs admin
    all_users: bool = False


def user_public(user: User) -> UserPublic:
    return UserPublic(
        email=user.email,
        name=user.display_name,
        role=Role(user.role),
        role_set_by=user.role_set_by,
        disabled=user.disabled,
        created_at=user.created_at,
        last_seen_at=user.last_seen_at,
    )


def _user(session: Session, email: str) -> User:
    user = session.get(User, email)
    if user is None:
        raise ReshootError("USER_NOT_FOUND", 404, {"email": email}, f"No user {email}: add them first")
    return user


@requires(Role.admin)
def list_users() -> list[UserPublic]:
    with session_scope() as session:
        return [user_public(u) for u in session.exec(select(User).order_by(col(User.email)))]


@requires(Role.admin)
def add_user(*, options: NewUser) -> UserPublic:
    email, picked = options.email, options.role
    try:
        with session_scope() as session:
            if session.get(User, email) is not None:
                raise ReshootError("USER_EXISTS", 409, {"email": email}, f"{email} is already a user")
            user = User(email=email, display_name=options.name, role=picked, role_set_by=current_actor().email)
            session.add(user)
            record(
                session,
                action=AuditAction.add_user,
                target=Target(AuditTargetKind.user, email),
                after={"role": str(picked)},
            )
    except IntegrityError:
        raise ReshootError("USER_EXISTS", 409, {"email": email}, f"{email} is already a user") from None
    return user_public(user)


@requires(Role.admin)
def set_role(*, options: SetRoleOptions) -> UserPublic:
    email, picked = options.email, options.role
    with session_scope() as session:
        user = _user(session, email)
        before = {"role": user.role, "roleSetBy": user.role_set_by}
        user.role, user.role_set_by = picked, current_actor().email
        session.add(user)
        record(
            session,
            action=AuditAction.set_role,
            target=Target(AuditTargetKind.user, email),
            before=before,
            after={"role": str(picked), "roleSetBy": user.role_set_by},
        )
    return user_public(user)


@requires(Role.admin)
def set_disabled(*, options: SetDisabledOptions) -> UserPublic:
    """A disabled user cannot sign in and their tokens stop working (at once: every request checks)."""
    email, disabled = options.email, options.disabled
    if disabled and email == current_actor().email:
        raise invalid_request([{"field": "email", "message": "You cannot disable yourself"}])
    with session_scope() as session:
        user = _user(session, email)
        before = {"disabled": user.disabled}
        user.disabled = bool(disabled)
        session.add(user)
        record(
            session,
            action=AuditAction.disable_user,
            target=Target(AuditTargetKind.user, email),
            before=before,
            after={"disabled": user.disabled},
        )
    return user_public(user)


def role_from_groups(groups: Iterable[str]) -> Role | None:
    """The highest role RESHOOT_ROLE_GROUPS gives any of `groups`; None if none is mapped."""
    mapping = get_settings().role_groups
    roles = [Role(mapping[g]) for g in groups if g in mapping]
    return max(roles, key=lambda r: r.rank) if roles else None


def sign_in(*, email: str, name: str = "", groups: Iterable[str] = ()) -> Actor:
    """The actor for someone the identity provider (or proxy) vouches for: their `users` row, created at their
    first sign-in. A role an admin set stays; otherwise it follows the group mapping, else RESHOOT_DEFAULT_ROLE.
    A new row and a role that followed the groups are recorded as that person's own changes."""
    email = normalise_email(email)
    automatic = role_from_groups(groups) or Role(get_settings().default_role)
    now = utcnow()
    try:
        user = _signed_in_user(email, name, automatic, now)
    except IntegrityError:  # a concurrent first sign-in inserted the row first: read it now
        user = _signed_in_user(email, name, automatic, now)
    return Actor(email=user.email, name=user.display_name or email, role=Role(user.role))


def _signed_in_user(email: str, name: str, automatic: Role, now: datetime) -> User:
    with session_scope() as session:
        found = session.get(User, email)
        if found is not None and found.disabled:
            raise ReshootError("ACCOUNT_DISABLED", 403, {"email": email}, f"The account {email} is disabled")
        actor = Actor(email=email, name=(found.display_name if found else "") or name or email, role=automatic)
        with acting_as(actor):
            user = _first_sign_in(session, email, name, automatic, now) if found is None else found
            _refresh(session, user, name=name, role=automatic, now=now)
    return user


def _first_sign_in(session: Session, email: str, name: str, role: Role, now: datetime) -> User:
    user = User(email=email, display_name=name[:255], role=role, last_seen_at=now)
    session.add(user)
    record(session, action=AuditAction.sign_in, target=Target(AuditTargetKind.user, email), after={"role": str(role)})
    return user


def _refresh(session: Session, user: User, *, name: str, role: Role, now: datetime) -> None:
    """Write the user row only when something changed or last seen is old (one UPDATE a minute at most)."""
    changed = False
    if user.role_set_by is None and user.role != role:
        record(
            session,
            action=AuditAction.set_role,
            target=Target(AuditTargetKind.user, user.email),
            before={"role": user.role},
            after={"role": str(role), "from": "groups" if get_settings().role_groups else "default role"},
        )
        user.role, changed = role, True
    if name and not user.display_name:
        user.display_name, changed = name[:255], True
    seen = user.last_seen_at
    if seen is None or now - seen >= LAST_SEEN_EVERY:
        user.last_seen_at, changed = now, True
    if changed:
        session.add(user)


# --- Personal API tokens ---------------------------------------------------------------------------------------


def _token_key() -> bytes:
    """RESHOOT_TOKEN_SECRET, or a random key kept in the data dir (created once, readable by this user only)."""
    settings = get_settings()
    if settings.token_secret:
        return settings.token_secret.encode()
    path = settings.data_dir / "token-secret"
    if not path.exists():
        _write_new_key(path)
    return path.read_bytes()


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".tmp-{secrets.token_hex(4)}-{path.name}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    try:
        os.link(temp, path)  # first writer wins; a concurrent start keeps the same key
    except FileExistsError:
        pass
    finally:
        temp.unlink()


def hash_token(token: str) -> str:
    """HMAC-SHA256 of the token under the server's key: a leaked table alone cannot be used or checked offline."""
    return hmac.new(_token_key(), token.encode(), hashlib.sha256).hexdigest()


def token_public(token: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        user=token.user_email,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        created_by=token.created_by,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


@requires(Role.viewer)
def create_token(*, options: CreateTokenOptions = CreateTokenOptions()) -> NewToken:
    """A new token for `options.user_email` (default: yourself; someone else's needs admin). It acts with that user's
    role."""
    actor = current_actor()
    owner = options.user_email or normalise_email(actor.email, field="user")
    if owner != actor.email:
        require(Role.admin)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session_scope() as session:
        user = _user(session, owner)
        if user.disabled:
            raise ReshootError("ACCOUNT_DISABLED", 403, {"email": owner}, f"The account {owner} is disabled")
        row = ApiToken(
            user_email=owner,
            name=options.name,
            token_hash=hash_token(token),
            prefix=token[:12],
            created_by=actor.email,
        )
        session.add(row)
        record(
            session,
            action=AuditAction.create_token,
            target=Target(AuditTargetKind.token, row.id),
            after={"user": owner, "name": row.name, "prefix": row.prefix},
        )
    return NewToken(id=row.id, token=token, user_email=owner, name=row.name)


@requires(Role.viewer)
def list_tokens(*, options: ListTokensOptions = ListTokensOptions()) -> list[TokenPublic]:
    """Your tokens; an admin may list another user's, or everyone's (`all_users`)."""
    actor = current_actor()
    owner, all_users = options.user_email or actor.email, options.all_users
    if all_users or owner != actor.email:
        require(Role.admin)
    query = select(ApiToken).order_by(col(ApiToken.created_at).desc())
    if not all_users:
        query = query.where(ApiToken.user_email == owner)
    with session_scope() as session:
        return [token_public(t) for t in session.exec(query)]


@requires(Role.viewer)
def revoke_token(token_id: str) -> TokenPublic:
    """Stops the token at once (every request looks it up). Yours, or anyone's for an admin."""
    actor = current_actor()
    with session_scope() as session:
        token = session.get(ApiToken, token_id) if isinstance(token_id, str) else None
        if token is None:
            raise ReshootError("TOKEN_NOT_FOUND", 404, {"id": str(token_id)}, "No such token")
        if token.user_email != actor.email:
            require(Role.admin)
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            session.add(token)
            record(
                session,
                action=AuditAction.revoke_token,
                target=Target(AuditTargetKind.token, token.id),
                before={"revokedAt": None},
                after={"user": token.user_email, "revokedAt": iso(token.revoked_at)},
            )
    return token_public(token)


def actor_for_token(token: str) -> Actor:
    """The actor a bearer token stands for; 401 UNAUTHENTICATED if it is unknown, revoked or its user disabled."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise unauthenticated("Unknown API token")
    now = utcnow()
    with session_scope() as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
        if row is None or row.revoked_at is not None:
            raise unauthenticated("Unknown or revoked API token")
        user = session.get(User, row.user_email)
        if user is None or user.disabled:
            raise unauthenticated("The token's user is disabled")
        if row.last_used_at is None or now - row.last_used_at >= LAST_SEEN_EVERY:
            row.last_used_at = now
            session.add(row)
        return Actor(email=user.email, name=user.display_name or user.email, role=Role(user.role))


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


# --- Behind an SSO proxy (oauth2-proxy's headers) --------------------------------------------------------------


def peer_is_trusted_proxy(peer: str | None) -> bool:
    """Whether `peer` (an IP address; None = loopback, as Streamlit reports it) is in RESHOOT_TRUSTED_PROXIES
    (addresses or networks, e.g. `127.0.0.1,::1,10.0.0.0/8`)."""
    try:
        address = ipaddress.ip_address((peer or "127.0.0.1").strip("[]"))
    except ValueError:
        return False
    for entry in get_settings().trusted_proxies:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@dataclass(frozen=True)
class ProxyIdentity:
    email: str
    name: str
    groups: tuple[str, ...]


def proxy_identity(headers: Mapping[str, str]) -> ProxyIdentity | None:
    """oauth2-proxy's `X-Forwarded-Email` (or `X-Forwarded-User`), `-Preferred-Username` and `-Groups`."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    email = lower.get("x-forwarded-email", "").strip() or lower.get("x-forwarded-user", "").strip()
    if not email:
        return None
    name = lower.get("x-forwarded-preferred-username", "").strip() or lower.get("x-forwarded-user", "").strip()
    groups = tuple(g.strip() for g in lower.get("x-forwarded-groups", "").split(",") if g.strip())
    return ProxyIdentity(email=email, name=name, groups=groups)


def proxy_actor(headers: Mapping[str, str], peer: str | None) -> Actor:
    """The actor the proxy vouches for; 401 if the request did not come from a trusted proxy or names nobody."""
    if not peer_is_trusted_proxy(peer):
        raise unauthenticated(f"The request did not come through a trusted proxy (from {peer or 'loopback'})")
    identity = proxy_identity(headers)
    if identity is None:
        raise unauthenticated("The proxy sent no X-Forwarded-Email or X-Forwarded-User")
    return sign_in(email=identity.email, name=identity.name, groups=identity.groups)
