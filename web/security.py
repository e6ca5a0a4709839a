"""What keeps one web participant's pages theirs: signed keys (cookie, resume and invitation
links), CSRF tokens, security headers and a rate limit.

- A web participant is known by a random `web_key` (never shown in a URL of the conversation).
  Their cookie, resume link and invitation link carry `web_key.signature`, an HMAC-SHA256 under
  the server's secret: a changed character makes it invalid, and a valid one cannot be made up.
- Every POST carries a CSRF token, the HMAC of a random value held in a cookie of its own
  (double submit, signed): a form of another site cannot know it.
- Rate limit: token buckets per client address and per participant; when one is empty the
  request gets a page that says to wait, with `Retry-After`.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

SIGNATURE_BYTES = 16
RECENT_SIGNATURES = 20_000
KEY_BYTES = 18

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
"""On every response. `no-referrer`: a resume link in the address bar never leaks to a link's
target."""


def new_web_key() -> str:
    """A new participant's random id: 144 bits, URL-safe."""
    return secrets.token_urlsafe(KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    """Signs and checks values with the server's secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the web secret needs at least 16 bytes")
        self._secret = secret
        self._recent: dict[str, str] = {}
        """Signatures made lately: a participant's cookie is checked at every request."""

    def signature(self, purpose: str, value: str) -> str:
        subject = f"{purpose}:{value}"
        known = self._recent.get(subject)
        if known is not None:
            return known
        digest = hmac.digest(self._secret, subject.encode(), "sha256")
        made = _b64(digest[:SIGNATURE_BYTES])
        if len(self._recent) >= RECENT_SIGNATURES:
            self._recent.clear()
        self._recent[subject] = made
        return made

    def sign(self, web_key: str) -> str:
        """The token of a participant: what their cookie and links carry."""
        return f"{web_key}.{self.signature('participant', web_key)}"

    def verify(self, token: str) -> str | None:
        """The web key of a token, or None when the token was not made here."""
        if not token or len(token) > 128 or not token.isascii():
            return None
        key, dot, signature = token.rpartition(".")
        if not dot or not key:
            return None
        if not hmac.compare_digest(signature, self.signature("participant", key)):
            return None
        return key

    def csrf_token(self, nonce: str) -> str:
        return self.signature("csrf", nonce)

    def check_csrf(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token or len(token) > 64 or not token.isascii():
            return False
        return hmac.compare_digest(token, self.csrf_token(nonce))


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets: `burst` requests at once, refilled at `per_minute` a minute. Remembers at
    most `max_keys` clients (the least recently seen are forgotten first)."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_keys: int = 50_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_keys = max_keys
        self.monotonic = monotonic
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one token; 0 if allowed, else the seconds to wait before one is back."""
        now = self.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        if self.rate <= 0:
            return 60.0
        return (1 - bucket.tokens) / self.rate
