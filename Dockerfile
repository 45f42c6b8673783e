# The portal as one image: gunicorn serving Django, static files through WhiteNoise.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    GUNICORN_THREADS=4

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin portal
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY portal/__init__.py portal/__init__.py
COPY accounts/__init__.py accounts/__init__.py
COPY integrations/__init__.py integrations/__init__.py
RUN pip install .

# .dockerignore keeps development tools out (the API sandbox, tests, benchmarks, env files);
# the build stops if the sandbox slips in anyway.
COPY . .
RUN test ! -e integrations/sandbox \
 && pip install --no-deps . \
 && DEBUG=0 \
    SECRET_KEY="collectstatic-only-$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    PORTAL_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput \
 && chown -R portal:portal /app

# By number, so a platform that requires a non-root user can verify it.
USER 10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# Threaded workers: a request waiting on an upstream does not hold a whole worker. This is the
# shape `make bench` measures (there: 2 workers x 4 threads on 2 cores).
# The background worker runs from the same image: docker run ... pulse-portal python manage.py qcluster
CMD ["sh", "-c", "exec gunicorn portal.wsgi:application --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY} --worker-class gthread --threads ${GUNICORN_THREADS} --access-logfile -"]
