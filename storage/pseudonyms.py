"""Stable pseudonyms for participants in exports and reports.

A pseudonym is `P-` followed by the first 12 hex digits of HMAC-SHA256(key, "telegram:<id>")
(or "preview:<name>" for a terminal preview). The key is 32 random bytes generated once per
database and kept in the `settings` table (`pseudonym_key`): the same participant gets the same
pseudonym in every export, and nobody without the key can find whose pseudonym it is by hashing
candidate Telegram ids (a bare hash of an id would be reversed by enumerating the ids).

An anonymised participant (`storage.retention`) has no Telegram id any more: their pseudonym was
computed before it was removed and is kept in `participants.pseudonym`, which the export uses.

12 hex digits are 48 bits: at 100,000 participants the chance that two of them share a pseudonym
is about 1 in 50,000 (`birthday` bound n²/2⁴⁹).
"""

from __future__ import annotations

import hmac
import logging
import secrets

from storage.repository import Store

log = logging.getLogger(__name__)

KEY_SETTING = "pseudonym_key"
PREFIX = "P-"
HEX_DIGITS = 12


class Pseudonymizer:
    """Computes pseudonyms with one key (see the module's docstring)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonym key has at least 16 bytes")
        self._key = key

    def for_key(
        self, telegram_id: int | None, preview_name: str | None, web_key: str | None = None
    ) -> str:
        """The pseudonym of a Telegram user, of a web participant (`web_key`), or of a named
        preview when both are None."""
        if telegram_id is not None:
            subject = f"telegram:{telegram_id}"
        elif web_key is not None:
            subject = f"web:{web_key}"
        else:
            subject = f"preview:{preview_name}"
        digest = hmac.digest(self._key, subject.encode("utf-8"), "sha256")
        return PREFIX + digest[: HEX_DIGITS // 2].hex()


async def load_pseudonymizer(store: Store) -> Pseudonymizer:
    """The database's pseudonymizer; its key is generated and stored the first time."""
    candidate = secrets.token_hex(32)
    stored = await store.setdefault_setting(KEY_SETTING, candidate)
    if stored == candidate:
        log.info("generated the pseudonym key of this database")
    return Pseudonymizer(bytes.fromhex(stored))
