# The portal as one image: gunicorn serving Django (static files through WhiteNoise), and the
# background worker from the same image (`python manage.py qcluster`). README: Docker, Deploying.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    GUNICORN_THREADS=4

# The portal's user owns nothing of the code: /app and the installed packages are root's and
# only readable to it. /data is the one place it may write (a SQLite file for a trial, the file
# mail backend's folder); mount a volume there to keep what it holds.
RUN groupadd --system --gid 10001 portal \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin portal \
 && install --directory --owner=10001 --group=10001 --mode=0750 /data
WORKDIR /app

# Dependencies first, exactly as requirements.lock pins them (versions and hashes; `make lock`),
# so code changes do not reinstall them.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# .dockerignore keeps development tools out (the API sandbox, tests, benchmarks, CI), and env
# files, databases and the git history; the build stops if the sandbox slips in anyway. `pip
# check` stops it too when pyproject.toml wants a dependency the lock lacks.
COPY . .
RUN test ! -e integrations/sandbox \
 && pip install --no-deps . \
 && pip check \
 && rm -rf build ./*.egg-info \
 && DEBUG=0 \
    SECRET_KEY="collectstatic-only-$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    PORTAL_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput

# By number, so a platform that requires a non-root user can verify it.
USER 10001:10001
EXPOSE 8000

# Readiness: the database and the cache answer and every migration is applied. In the worker's
# container (no HTTP) the script only reports that it is the worker.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "/app/docker/healthcheck.py"]

# Set-up first when asked (PORTAL_MIGRATE_ON_START=1 migrates), then the command. The
# background worker is the same image: docker run ... pulse-portal python manage.py qcluster
ENTRYPOINT ["sh", "/app/docker/entrypoint.sh"]
# gunicorn's settings (port, workers, threads, trusted proxies, a quiet access log) are read
# from the environment by docker/gunicorn.conf.py.
CMD ["gunicorn", "--config", "docker/gunicorn.conf.py", "portal.wsgi:application"]
