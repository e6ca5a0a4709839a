"""What the channels (the Telegram bot, the web) share and that is neither the pure engine
(`dialogs/`) nor storage: the texts' catalogues and their formatting."""
