"""Receipt references: short, easy to read out, the same on every channel (`dialogs.reference`)."""

from __future__ import annotations

from dialogs.reference import ALPHABET, new_reference

__all__ = ["ALPHABET", "new_reference"]
