# nps-bot: `docker build -t nps-bot .`, then see compose.yaml and docs/deploy.md.
# PYTHON_IMAGE may name a local copy of the same base where Docker Hub cannot be reached.
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the project and its dependencies into a virtualenv ----------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/nps-bot
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY blocks ./blocks
COPY storage ./storage
RUN /opt/nps-bot/bin/pip install .

# --- run: the virtualenv on a clean base, as a user without privileges ----------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 nps-bot \
    && useradd --uid 10001 --gid 10001 --home-dir /app --create-home --shell /usr/sbin/nologin nps-bot
COPY --from=build /opt/nps-bot /opt/nps-bot
ENV PATH=/opt/nps-bot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
ENTRYPOINT ["nps-bot"]
CMD ["serve"]
