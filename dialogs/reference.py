"""Receipt references: short, easy to read out, the same on every channel.

Drawn by the store when it writes a submission whose reference is taken (`storage.repository`),
and by the channels when they build a `Submit`.
"""

from __future__ import annotations

import secrets

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I."""


def new_reference() -> str:
    """A short receipt reference, easy to read out: 8 characters without 0/O or 1/I."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"
