# The app: FastAPI server with the team and the narrator. Build: docker compose build app
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/app

# Dependencies first (pinned in pyproject.toml), so code edits do not re-install them.
COPY pyproject.toml README.md ./
RUN mkdir -p app agents tools \
 && touch app/__init__.py agents/__init__.py tools/__init__.py \
 && pip install . \
 && pip uninstall -y talking-research-team

COPY app ./app
COPY agents ./agents
COPY tools ./tools
RUN pip install --no-deps . \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin app \
 && mkdir -p /srv/app/data \
 && chown app:app /srv/app/data

USER app
EXPOSE 8000
CMD ["research-team", "serve", "--host", "0.0.0.0", "--port", "8000"]
