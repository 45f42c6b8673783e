#!/bin/sh
# The image's entrypoint: set-up when asked, then the command, which becomes the container's
# main process (gunicorn by default; `python manage.py qcluster` for the background worker).
#
# PORTAL_MIGRATE_ON_START=1 applies the database migrations first (docker/migrate.py: on
# PostgreSQL one starting container at a time). Without it nothing is migrated, and /readyz
# answers 503 "migrations" until someone runs `python manage.py migrate`.
set -eu

case "${PORTAL_MIGRATE_ON_START:-0}" in
  1 | [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn])
    python "$(dirname "$0")/migrate.py"
    ;;
esac

exec "$@"
