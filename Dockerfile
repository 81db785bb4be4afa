# One image for every realanalytics service; each compose service picks its process with
# `command:` (python -m ingest_gateway, python -m migrations, ...).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so editing the code does not
# reinstall them (this layer changes only when pyproject.toml does).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself. README.md* is a glob so the build works before the README exists
# (pyproject.toml names it as the long description); pyproject.toml rides along because
# the classic builder refuses a COPY whose only source is a glob matching nothing.
COPY pyproject.toml README.md* ./
COPY contracts/ contracts/
COPY ingest_gateway/ ingest_gateway/
COPY control_plane/ control_plane/
COPY migrations/ migrations/
RUN pip install --no-deps .

# Everything else .dockerignore lets through (scripts, and packages not yet listed in
# pyproject.toml), importable with `python -m` from the working directory.
COPY . .

RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
USER app

EXPOSE 8080 8081
