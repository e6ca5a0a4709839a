"""The web channel: the consultation in a browser, on the same engine (`dialogs/`) and database
(`storage/`) as the Telegram bot. A sibling of `bot/`: neither imports the other; what both need
(the texts' catalogues, clocks, receipt references) lives in `channels/`."""
