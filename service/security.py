"""API keys: bearer tokens compared by hash in constant time, with a reader/admin role."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Literal

from fastapi import HTTPException, Request

Role = Literal["reader", "admin"]
OPEN_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/slack/events",
    }
)
"""Paths anyone may call, matched exactly (Slack's requests are verified by signature)."""


class KeyChecker:
    """Decides who may call what, from the configured key hashes."""

    def __init__(self, key_hashes: dict[str, str]) -> None:
        self._keys = key_hashes

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def role_of(self, authorization: str | None) -> Role | None:
        """The role of a ``Bearer KEY`` header, or None for a missing or unknown key."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        digest = hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
        found: Role | None = None
        for known, role in self._keys.items():  # every key compared: no early exit to time
            if hmac.compare_digest(known, digest):
                found = "admin" if role == "admin" else "reader"
        return found

    def require(self, request: Request, role: Role) -> None:
        """Raise 401 without a valid key, 403 when the key lacks the role."""
        if not self.enabled:
            return
        have = self.role_of(request.headers.get("authorization"))
        if have is None:
            raise HTTPException(
                status_code=401,
                detail="missing or unknown API key (Authorization: Bearer KEY)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if role == "admin" and have != "admin":
            raise HTTPException(status_code=403, detail="this endpoint needs an admin API key")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
