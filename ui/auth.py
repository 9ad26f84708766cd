"""Who is asking: logins, their throttling, idle sessions, and the trusted proxy header.

All of it lives on the server. A browser session holds only an opaque random token in
``gr.State`` (which Gradio keeps server-side); each admin action looks the token up
here, so hiding a button is never the protection. Throttling and sessions are kept in
memory per process: a restart logs everybody out and forgets failed attempts (which the
audit log still lists).
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rag.settings import Settings
from ui.accounts import ENV_ACCOUNT, Account, AccountStore, env_password
from ui.audit import AuditLog

Clock = Callable[[], float]
UNKNOWN_CLIENT = "unbekannt"
# failures older than this are forgotten, and so is the table entry that held them
FORGET_AFTER_SECONDS = 24 * 3600
MAX_TRACKED = 10_000
MAX_LOGGED_NAME = 64


# --- throttling -------------------------------------------------------------------------


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class Throttle:
    """Failed logins counted per key ("account:NAME", "client:ADDRESS"); after
    ``max_failures`` of them every attempt waits ``delay`` seconds, doubling with each
    further failure up to ``max_delay``. Attempts during a wait are refused unchecked."""

    def __init__(self, *, max_failures: int, delay: float, max_delay: float,
                 clock: Clock = time.monotonic) -> None:
        self.max_failures = max_failures
        self.delay = delay
        self.max_delay = max_delay
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, _Failures] = {}

    def wait_seconds(self, *keys: str) -> float:
        """How long the longest lock among ``keys`` still lasts (0: none)."""
        now = self.clock()
        with self._lock:
            waits = [self._failures[k].locked_until - now for k in keys if k in self._failures]
        return max([0.0, *waits])

    def failure(self, *keys: str) -> float:
        """Count a failure against every key; the wait it imposes now."""
        now = self.clock()
        with self._lock:
            self._forget_old(now)
            for key in keys:
                entry = self._failures.setdefault(key, _Failures())
                if now - entry.last > FORGET_AFTER_SECONDS:
                    entry.count = 0
                entry.count += 1
                entry.last = now
                if entry.count >= self.max_failures:
                    steps = entry.count - self.max_failures
                    wait = self.max_delay if steps > 30 else min(self.delay * 2**steps,
                                                                 self.max_delay)
                    entry.locked_until = now + wait
        return self.wait_seconds(*keys)

    def success(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _forget_old(self, now: float) -> None:
        if len(self._failures) < MAX_TRACKED:
            return
        for key in [k for k, v in self._failures.items()
                    if now - v.last > FORGET_AFTER_SECONDS and v.locked_until <= now]:
            del self._failures[key]
        while len(self._failures) >= MAX_TRACKED:  # a flood of addresses: oldest out
            oldest = min(self._failures, key=lambda k: self._failures[k].last)
            del self._failures[oldest]


# --- sessions ---------------------------------------------------------------------------


@dataclass
class Session:
    account: str
    role: str
    fingerprint: str
    client: str
    last_seen: float


class Sessions:
    def __init__(self, *, idle_seconds: float, clock: Clock = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(self, *, account: str, role: str, fingerprint: str, client: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._drop_idle()
            self._sessions[token] = Session(account, role, fingerprint, client, self.clock())
        return token

    def check(self, token: Any) -> tuple[Session | None, bool]:
        """(session, expired): the live session for ``token`` (its idle time restarts),
        or None, with ``expired`` True when it existed but sat idle too long."""
        if not isinstance(token, str):
            return None, False
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None, False
            if now - session.last_seen > self.idle_seconds:
                del self._sessions[token]
                return None, True
            session.last_seen = now
            return session, False

    def close(self, token: Any) -> Session | None:
        if not isinstance(token, str):
            return None
        with self._lock:
            return self._sessions.pop(token, None)

    def close_account(self, account: str) -> None:
        with self._lock:
            for token in [t for t, s in self._sessions.items() if s.account == account]:
                del self._sessions[token]

    def _drop_idle(self) -> None:
        now = self.clock()
        for token in [t for t, s in self._sessions.items()
                      if now - s.last_seen > self.idle_seconds]:
            del self._sessions[token]


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

    def caller(self, request: Any) -> Caller:
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


def _headers(request: Any) -> dict[str, str]:
    if request is None:
        return {}
    try:
        return {str(k).lower(): str(v) for k, v in dict(request.headers).items()}
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
    clock: Clock = time.monotonic
    throttle: Throttle = field(init=False)
    sessions: Sessions = field(init=False)
    proxy: ProxyTrust = field(init=False)
    shared_password: str | None = field(init=False)

    def __post_init__(self) -> None:
        # read once, like every setting: a changed KORA_ADMIN_PASSWORD takes a restart
        self.shared_password = env_password()
        s = self.settings
        self.throttle = Throttle(max_failures=s.login_max_failures, delay=s.login_delay_seconds,
                                 max_delay=s.login_delay_max_seconds, clock=self.clock)
        self.sessions = Sessions(idle_seconds=s.admin_session_idle_minutes * 60,
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

    def caller(self, request: Any) -> Caller:
        caller = self.proxy.caller(request)
        if caller.refused:
            self.audit.append(action="untrusted-header", account=caller.untrusted_user or "",
                              client=caller.client, outcome="refused",
                              detail={"header": self.settings.trusted_user_header})
        return caller

    def login(self, name: str, password: str, request: Any) -> LoginResult:
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

    def logout(self, token: Any, request: Any) -> str | None:
        session = self.sessions.close(token)
        if session is None:
            return None
        self.audit.append(action="logout", account=session.account,
                          client=self.proxy.caller(request).client)
        return session.account

    def principal(self, token: Any, request: Any, *, role: str) -> tuple[Principal | None, str]:
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
