"""Localised texts of a questionnaire: one string per language, with a fallback language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Text:
    """A human-readable text in one or several languages (`{fr: …, en: …}` in the file)."""

    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, language: str, fallback: str | None = None) -> str:
        """The text in `language`, else in `fallback`, else in any language, else ""."""
        if language in self.values:
            return self.values[language]
        if fallback is not None and fallback in self.values:
            return self.values[fallback]
        return next(iter(self.values.values()), "")

    def languages(self) -> frozenset[str]:
        return frozenset(self.values)

    def __bool__(self) -> bool:
        return any(self.values.values())

    @staticmethod
    def plain(text: str, languages: tuple[str, ...]) -> Text:
        """The same text in every language."""
        return Text({language: text for language in languages})
