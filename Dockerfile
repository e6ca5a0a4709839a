# consultbot: the Telegram survey bot.
#   docker build -t consultbot .
#   docker run --env-file .env -v consultbot-data:/data consultbot            (long polling, SQLite)
#   docker run --env-file .env -p 8080:8080 consultbot consultbot run --webhook
#   (/metrics is served on port 9090, a listener of its own: publish it only on a private
#   address, e.g. -p 127.0.0.1:9090:9090)
# The builder stage makes a virtual environment with the project and its dependencies; the
# final stage copies only that environment and the survey files, and runs as a non-root user.
# The compiled catalogues (bot/locales/*/LC_MESSAGES/*.mo) and the Alembic migrations are
# package data of the wheel. tests/deploy/test_image_install.py runs the same install steps.
# /data (the SQLite database: personal data) is 0700 and owned by the app user; a new named volume
# takes that mode and owner. The program sets umask 077: its files are 0600.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY analysis ./analysis
COPY bot ./bot
COPY dialogs ./dialogs
COPY forms ./forms
COPY storage ./storage
COPY channels ./channels
COPY web ./web
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install /wheels/*.whl

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/consultbot.db \
    SURVEY_FILE=/app/surveys/poles-de-competitivite.yaml \
    WEBHOOK_LISTEN=0.0.0.0:8080 \
    METRICS_LISTEN=0.0.0.0:9090 \
    LOG_FORMAT=json
RUN groupadd --system --gid 10001 consultbot \
    && useradd --system --uid 10001 --gid consultbot --home-dir /app --shell /usr/sbin/nologin consultbot \
    && mkdir -p /app \
    && install -d -m 0700 -o consultbot -g consultbot /data
COPY --from=builder /opt/venv /opt/venv
COPY surveys /app/surveys
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080 8081 9090
# /healthz (database reachable) is served in webhook mode only: with `run --webhook` the check
# asks it; a long-polling container has no HTTP server, so the check then passes while it runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; w = b'--webhook' in open('/proc/1/cmdline', 'rb').read(); p = os.environ.get('WEBHOOK_LISTEN', '0.0.0.0:8080').rsplit(':', 1)[-1]; w and u.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4).close()"]
CMD ["consultbot", "run"]
