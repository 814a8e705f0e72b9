# The API and the background worker share this image (different commands).

# The console's vendored browser assets (ReDoc for /docs), from the pinned lock file, as
# `make assets` installs them; install scripts stay off (app/console/.npmrc).
FROM node:20-slim AS assets
WORKDIR /console
COPY app/console/package.json app/console/package-lock.json app/console/.npmrc ./
RUN npm ci --no-fund --no-audit --loglevel=error

FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONPATH=/app

WORKDIR /app
RUN useradd --system --uid 10001 --no-create-home contacts

# Dependencies first: they change less often than the code, so this layer caches.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py && pip install . && rm -rf app build *.egg-info

COPY app ./app
COPY --from=assets /console/node_modules/redoc/bundles ./app/console/node_modules/redoc/bundles
COPY index_mappings ./index_mappings
COPY wsgi.py gunicorn.conf.py ./

# Uploads waiting for the worker (a named volume in docker-compose takes this ownership).
RUN mkdir -p /data/imports && chown contacts /data/imports
USER contacts
ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000
# The API alone (docker-compose runs `contacts worker` in its own container). Exec form,
# and `serve --no-worker` replaces itself with gunicorn: gunicorn is PID 1 and receives
# SIGTERM itself (graceful shutdown).
CMD ["contacts", "serve", "--no-worker"]
