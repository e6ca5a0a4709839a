"""Clocks passed to the bot: now in `channels.clock` (shared with the web channel); this module
keeps the names the bot imports."""

from __future__ import annotations

from channels.clock import Clock, RehearsalClock, clock_from_env, system_clock

__all__ = ["Clock", "RehearsalClock", "clock_from_env", "system_clock"]
