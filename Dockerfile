# One image for every courier process; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

RUN useradd --create-home --uid 1000 courier

COPY pyproject.toml README.md ./
COPY config ./config
COPY delivery ./delivery
COPY feedback ./feedback
COPY launcher ./launcher
COPY tasks ./tasks
COPY watcher ./watcher
RUN pip install .

RUN mkdir -p /app/var && chown courier /app/var

# Flower reads flowerconfig.py from its working folder.
COPY flowerconfig.py Procfile ./

USER courier
