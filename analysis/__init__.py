"""Pure computations over collected responses (no database, no Telegram): figures that `/stats`,
`consultbot stats`, the report and the exports share. Never imports storage, bot, SQLAlchemy or
aiogram."""
