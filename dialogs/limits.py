"""Limits a questionnaire must respect so that every question fits in a Telegram chat."""

MAX_OPTIONS = 14
"""Choices of a question, "other" included: two columns of seven buttons still fit a phone."""
MAX_BUTTON_LABEL = 40
"""Characters of an option label, a scale end label or a consent button."""
MAX_QUESTION_TEXT = 1500
"""Characters of a question text (with its help, progress and options it must stay under 4,096)."""
MAX_TEXT_ANSWER = 3500
"""The largest `max_length` a text question may declare (a Telegram message holds 4,096)."""
MAX_SCALE_POINTS = 11
"""Points of a scale (0–10 is the widest that fits on two rows of buttons)."""
MAX_ID_LENGTH = 32
"""Characters of a question, section or option id (they travel in 64-byte callback data)."""
MAX_EMAIL_LENGTH = 254
MAX_OTHER_TEXT = 500
"""Characters of the free text given with an "other" choice."""
OTHER_OPTION_ID = "other"
"""The id of the "other" choice added by `other: true`."""
MAX_LIST_OPTIONS = 500
"""Options of a long list (a single or multi choice searched by typing, paged as buttons)."""
MAX_LIST_LABEL = 64
"""Characters of an option label in a long list or an options file."""
PAGE_SIZE = 8
"""Options on one page of a long list, and search results offered at once."""
