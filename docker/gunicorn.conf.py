"""gunicorn's settings for the portal: the image's CMD, and installs without Docker
(`gunicorn --config docker/gunicorn.conf.py portal.wsgi:application`, README "Deploying").

Everything comes from the environment, like portal/settings.py. Options given on gunicorn's
command line (or in GUNICORN_CMD_ARGS) override these, e.g. `--bind 127.0.0.1:8000` behind a
proxy on the same host.

- PORT (8000): listen on 0.0.0.0:$PORT.
- WEB_CONCURRENCY (2) worker processes of GUNICORN_THREADS (4) threads: a request waiting on an
  upstream does not hold a whole worker. The shape `make bench` measures.
- TRUSTED_PROXY_COUNT and FORWARDED_ALLOW_IPS: which peers gunicorn believes about the scheme
  (X-Forwarded-Proto). See `forwarded_allow_ips` below.
- The access log goes to standard output, without the health checks' lines.
"""

import os
from typing import Any

from gunicorn.glogging import Logger

#: Probed every few seconds by load balancers and Docker: their lines would bury the real ones.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})


class PortalLogger(Logger):
    """gunicorn's logger, leaving the health checks out of the access log.

    What they find still reaches the portal's own log: a change of readiness is logged once
    (portal/views.py), and an error as any other.
    """

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if environ.get("PATH_INFO") in QUIET_PATHS:
            return
        super().access(resp, req, environ, request_time)


def trusted_forwarders() -> str:
    """The peers whose X-Forwarded-Proto gunicorn believes: none unless configured.

    gunicorn's own default trusts 127.0.0.1 and ::1, so anything on the same host (a sidecar, a
    health probe, a server-side request forgery) could claim HTTPS. With TRUSTED_PROXY_COUNT 0
    (the portal trusts no proxy) gunicorn trusts none either, and setting FORWARDED_ALLOW_IPS then
    is a mistake worth stopping for. Behind a proxy Django reads X-Forwarded-Proto itself
    (SECURE_PROXY_SSL_HEADER), so FORWARDED_ALLOW_IPS stays optional: the proxy's addresses or
    networks, comma-separated, for gunicorn's own view of the scheme.
    """
    proxies = int(os.environ.get("TRUSTED_PROXY_COUNT", "").strip() or "0")
    allowed = os.environ.get("FORWARDED_ALLOW_IPS", "").strip()
    if allowed and not proxies:
        raise SystemExit(
            "FORWARDED_ALLOW_IPS is set but TRUSTED_PROXY_COUNT is 0: set TRUSTED_PROXY_COUNT to "
            "the number of proxies in front of the portal, or unset FORWARDED_ALLOW_IPS."
        )
    return allowed


bind = [f"0.0.0.0:{os.environ.get('PORT', '').strip() or '8000'}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "").strip() or "2")
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "").strip() or "4")
forwarded_allow_ips = trusted_forwarders()
accesslog = "-"
logger_class = PortalLogger
# Workers' heartbeat files in memory: the image's filesystem may be read-only, and a disk-backed
# /tmp can stall the heartbeat (gunicorn's advice for containers).
SHARED_MEMORY = "/dev/shm"  # noqa: S108 (a tmpfs, which is the point)
worker_tmp_dir = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None
# No control socket (gunicornc): nothing uses it, and it would be written under $HOME.
control_socket_disable = True
