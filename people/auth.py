"""Who is asking: logins, their throttling, idle sessions, and the trusted proxy header.

All of it lives on the server. A browser session holds only an opaque random token in
Gradio's server-side state; each admin action looks the token up here, so hiding a
button is never the protection. Failed logins and sessions live in people's database:
five failures spread over any number of workers start the wait on all of them, and a
restart neither forgets them nor logs anybody out. Their clock is the wall clock (epoch
seconds), the only one that workers on several machines share.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update

from people.accounts import ENV_ACCOUNT, Account, AccountStore, env_password
from people.audit import AuditLog, new_record
from people.schema import login_failures as _failures
from people.schema import sessions as _sessions
from rag.settings import Settings

if TYPE_CHECKING:
    from people.database import Database

Clock = Callable[[], float]
UNKNOWN_CLIENT = "unbekannt"
# failures older than this are forgotten, and so is the table entry that held them
FORGET_AFTER_SECONDS = 24 * 3600
MAX_LOGGED_NAME = 64


# --- throttling -------------------------------------------------------------------------


class Throttle:
    """Failed logins counted per key ("account:NAME", "client:ADDRESS") in the database,
    so the count is the same on every worker; after ``max_failures`` of them every
    attempt waits ``delay`` seconds, doubling with each further failure up to
    ``max_delay``. Attempts during a wait are refused unchecked."""

    def __init__(self, database: Database, *, max_failures: int, delay: float,
                 max_delay: float, clock: Clock = time.time) -> None:
        self.database = database
        self.max_failures = max_failures
        self.delay = delay
        self.max_delay = max_delay
        self.clock = clock

    def wait_seconds(self, *keys: str) -> float:
        """How long the longest lock among ``keys`` still lasts (0: none)."""
        now = self.clock()
        with self.database.transaction() as connection:
            until = connection.execute(
                select(func.max(_failures.c.locked_until))
                .where(_failures.c.key.in_([k[:200] for k in keys]))).scalar()
        return max(0.0, (until or 0.0) - now)

    def failure(self, *keys: str) -> float:
        """Count a failure against every key; the wait it imposes now."""
        now = self.clock()
        waits = [0.0]
        # serialised: two workers counting the same key at once must both count
        with self.database.transaction(serialise="login-failures") as connection:
            connection.execute(delete(_failures).where(
                _failures.c.last < now - FORGET_AFTER_SECONDS,
                _failures.c.locked_until <= now))
            for key in (k[:200] for k in keys):
                row = connection.execute(
                    select(_failures).where(_failures.c.key == key)).first()
                count = 1 if row is None or now - row.last > FORGET_AFTER_SECONDS \
                    else int(row._mapping["count"]) + 1
                locked_until = row.locked_until if row is not None else 0.0
                if count >= self.max_failures:
                    steps = count - self.max_failures
                    wait = self.max_delay if steps > 30 else min(self.delay * 2**steps,
                                                                 self.max_delay)
                    locked_until = now + wait
                values = {"count": count, "last": now, "locked_until": locked_until}
                if row is None:
                    connection.execute(insert(_failures).values(key=key, **values))
                else:
                    connection.execute(update(_failures).where(_failures.c.key == key)
                                       .values(**values))
                waits.append(locked_until - now)
        return max(waits)

    def success(self, *keys: str) -> None:
        keys = tuple(k[:200] for k in keys)
        # every API request with a right key ends here: only a key with failures to
        # forget takes the lock that all workers' failures wait for
        with self.database.transaction() as connection:
            counted = connection.execute(select(_failures.c.key).where(
                _failures.c.key.in_(keys)).limit(1)).first()
        if counted is None:
            return
        with self.database.transaction(serialise="login-failures") as connection:
            connection.execute(delete(_failures).where(_failures.c.key.in_(keys)))


# --- sessions ---------------------------------------------------------------------------


@dataclass
class Session:
    account: str
    role: str
    fingerprint: str
    client: str
    last_seen: float


class Sessions:
    """Admin web sessions in the database. The browser holds the token (in Gradio's
    server-side state); the table holds only its SHA-256."""

    def __init__(self, database: Database, *, idle_seconds: float,
                 clock: Clock = time.time) -> None:
        self.database = database
        self.idle_seconds = idle_seconds
        self.clock = clock

    def open(self, *, account: str, role: str, fingerprint: str, client: str) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.database.transaction() as connection:
            connection.execute(delete(_sessions).where(
                _sessions.c.last_seen < now - self.idle_seconds))
            connection.execute(insert(_sessions).values(
                token_hash=_token_hash(token), account=account[:200], role=role,
                fingerprint=fingerprint, client=client[:200], last_seen=now))
        return token

    def check(self, token: object) -> tuple[Session | None, bool]:
        """(session, expired): the live session for ``token`` (its idle time restarts),
        or None, with ``expired`` True when it existed but sat idle too long."""
        if not isinstance(token, str):
            return None, False
        now = self.clock()
        key = _token_hash(token)
        with self.database.transaction() as connection:
            row = connection.execute(
                select(_sessions).where(_sessions.c.token_hash == key)).first()
            if row is None:
                return None, False
            if now - row.last_seen > self.idle_seconds:
                connection.execute(delete(_sessions).where(_sessions.c.token_hash == key))
                return None, True
            connection.execute(update(_sessions).where(_sessions.c.token_hash == key)
                               .values(last_seen=now))
        return Session(row.account, row.role, row.fingerprint, row.client, now), False

    def close(self, token: object, *, audit: AuditLog | None = None,
              client: str = "") -> Session | None:
        """End the session; with ``audit``, its "logout" entry is written in the same
        transaction, so a logout never lands without its line in the audit trail."""
        if not isinstance(token, str):
            return None
        key = _token_hash(token)
        with self.database.transaction(serialise="audit" if audit else None) as connection:
            row = connection.execute(
                select(_sessions).where(_sessions.c.token_hash == key)).first()
            if row is None:
                return None
            connection.execute(delete(_sessions).where(_sessions.c.token_hash == key))
            if audit is not None:
                audit.append_in(connection, new_record(action="logout", account=row.account,
                                                       client=client))
        return Session(row.account, row.role, row.fingerprint, row.client, row.last_seen)

    def close_account(self, account: str) -> None:
        with self.database.transaction() as connection:
            connection.execute(delete(_sessions).where(_sessions.c.account == account))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- where a request comes from ---------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The client address KORA believes, the user a trusted proxy vouches for, and a
    refusal reason when the request claims a user without coming from the proxy."""

    client: str
    proxy_user: str | None = None
    untrusted_user: str | None = None

    @property
    def refused(self) -> bool:
        return self.untrusted_user is not None


class ProxyTrust:
    def __init__(self, settings: Settings) -> None:
        self.header = (settings.trusted_user_header or "").lower() or None
        self.networks = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]

    def is_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def caller(self, request: object) -> Caller:
        """Read the peer address and headers of a Gradio request (None: a direct call)."""
        peer = getattr(getattr(request, "client", None), "host", None) if request else None
        peer = str(peer) if peer else UNKNOWN_CLIENT
        headers = _headers(request)
        from_proxy = self.is_proxy(peer)
        client = peer
        forwarded = headers.get("x-forwarded-for")
        if from_proxy and forwarded:
            # the proxy appends the address it saw; anything before it the client wrote
            client = forwarded.split(",")[-1].strip() or peer
        if self.header is None:
            return Caller(client=client)
        user = headers.get(self.header, "").strip()
        if not user:
            return Caller(client=client)
        if not from_proxy:
            return Caller(client=client, untrusted_user=user[:MAX_LOGGED_NAME])
        return Caller(client=client, proxy_user=user)


def _headers(request: object) -> dict[str, str]:
    if request is None:
        return {}
    try:
        headers = getattr(request, "headers", None)
        if headers is None:
            return {}
        return {str(k).lower(): str(v) for k, v in dict(headers).items()}
    except (AttributeError, TypeError):
        return {}


# --- the gate: everything together ------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Someone allowed in: an account name and how they got in."""

    account: str
    role: str
    client: str
    via: str  # "password", "proxy" or "env"


@dataclass
class LoginResult:
    ok: bool
    token: str | None = None
    account: str = ""
    wait_seconds: float = 0.0
    refused_header: bool = False


@dataclass
class Gate:
    """Logins, sessions and the proxy header for one app, each decision audited."""

    settings: Settings
    accounts: AccountStore
    audit: AuditLog
    clock: Clock = time.time
    throttle: Throttle = field(init=False)
    sessions: Sessions = field(init=False)
    proxy: ProxyTrust = field(init=False)
    shared_password: str | None = field(init=False)

    def __post_init__(self) -> None:
        # read once, like every setting: a changed KORA_ADMIN_PASSWORD takes a restart
        self.shared_password = env_password()
        s = self.settings
        database = self.accounts.database
        self.throttle = Throttle(database, max_failures=s.login_max_failures,
                                 delay=s.login_delay_seconds,
                                 max_delay=s.login_delay_max_seconds, clock=self.clock)
        self.sessions = Sessions(database, idle_seconds=s.admin_session_idle_minutes * 60,
                                 clock=self.clock)
        self.proxy = ProxyTrust(s)

    @property
    def enabled(self) -> bool:
        """Can anybody reach the admin area at all?"""
        return (self.accounts.has_accounts() or self.shared_password is not None
                or self.proxy.header is not None)

    def shared_password_active(self) -> bool:
        """The shared password counts only while no named account exists."""
        return self.shared_password is not None and not self.accounts.has_accounts()

    def caller(self, request: object) -> Caller:
        caller = self.proxy.caller(request)
        if caller.refused:
            self.audit.append(action="untrusted-header", account=caller.untrusted_user or "",
                              client=caller.client, outcome="refused",
                              detail={"header": self.settings.trusted_user_header})
        return caller

    def login(self, name: str, password: str, request: object) -> LoginResult:
        caller = self.caller(request)
        if caller.refused:
            return LoginResult(ok=False, refused_header=True)
        name = (name or "").strip()
        env_mode = self.shared_password_active()
        account_key = ENV_ACCOUNT if env_mode else name
        keys = (f"account:{account_key}", f"client:{caller.client}")
        logged_name = account_key[:MAX_LOGGED_NAME]
        wait = self.throttle.wait_seconds(*keys)
        if wait > 0:
            self.audit.append(action="login", account=logged_name, client=caller.client,
                              outcome="throttled", detail={"wait_seconds": math.ceil(wait)})
            return LoginResult(ok=False, account=logged_name, wait_seconds=wait)
        account = self._authenticate(name, password or "", env_mode)
        if account is None:
            wait = self.throttle.failure(*keys)
            detail = {"wait_seconds": math.ceil(wait)} if wait > 0 else {}
            self.audit.append(action="login", account=logged_name, client=caller.client,
                              outcome="failed", detail=detail)
            return LoginResult(ok=False, account=logged_name, wait_seconds=wait)
        self.throttle.success(*keys)
        token = self.sessions.open(account=account.name, role=account.role,
                                   fingerprint=account.fingerprint, client=caller.client)
        self.audit.append(action="login", account=account.name, client=caller.client,
                          detail={"role": account.role})
        return LoginResult(ok=True, token=token, account=account.name)

    def _authenticate(self, name: str, password: str, env_mode: bool) -> Account | None:
        if env_mode:
            expected = self.shared_password or ""
            # the shared password has no hash on disk: compare in constant time
            if secrets.compare_digest(password.encode("utf-8"), expected.encode("utf-8")):
                return env_account()
            return None
        return self.accounts.authenticate(name, password)

    def logout(self, token: object, request: object) -> str | None:
        session = self.sessions.close(token, audit=self.audit,
                                      client=self.proxy.caller(request).client)
        return session.account if session is not None else None

    def principal(self, token: object, request: object, *,
                  role: str) -> tuple[Principal | None, str]:
        """Who may act, or (None, why not): "refused-header", "expired", "not-admin",
        "not-logged-in". ``role`` "admin" for the admin area, "chat" for the chat."""
        caller = self.caller(request)
        if caller.refused:
            return None, "refused-header"
        if caller.proxy_user is not None:
            account = self.accounts.get(caller.proxy_user)
            if role == "chat":
                return Principal(caller.proxy_user, "chat", caller.client, "proxy"), ""
            if account is not None and account.role == "admin":
                return Principal(account.name, "admin", caller.client, "proxy"), ""
        session, expired = self.sessions.check(token)
        if session is None:
            if expired:
                self.audit.append(action="session-expired", account="", client=caller.client)
            return None, "expired" if expired else "not-logged-in"
        if not self._still_valid(session):
            self.sessions.close(token)
            return None, "not-logged-in"
        if role == "admin" and session.role != "admin":
            return None, "not-admin"
        return Principal(session.account, session.role, caller.client,
                         "env" if session.account == ENV_ACCOUNT else "password"), ""

    def _still_valid(self, session: Session) -> bool:
        """A removed account, a changed password or role, or (for the shared password) a
        named account created since, ends the session."""
        if session.account == ENV_ACCOUNT:
            return self.shared_password_active()
        account = self.accounts.get(session.account)
        return account is not None and account.fingerprint == session.fingerprint


def env_account() -> Account:
    return Account(name=ENV_ACCOUNT, role="admin", password_hash=None, created="",
                   password_changed="")


__all__ = ["Caller", "Gate", "LoginResult", "Principal", "ProxyTrust", "Session", "Sessions",
           "Throttle", "env_account"]
