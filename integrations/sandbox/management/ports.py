"""Saying plainly why `make sandbox` or `make demo` cannot listen where asked."""

from __future__ import annotations

import errno
import socket

from django.core.management.base import CommandError


def refusal(exc: OSError, host: str, port: int, variable: str, running: str) -> CommandError:
    """One line for a failed bind: whether the port is taken (by `running`, most likely) and
    which make variable picks another one."""
    if exc.errno == errno.EADDRINUSE:
        return CommandError(
            f"Port {port} is in use — is {running} running? "
            f"Set {variable}=<another port> (e.g. {variable}={port + 1})."
        )
    return CommandError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.")


def check_free(host: str, port: int, variable: str, running: str) -> None:
    """Raise `refusal(...)` unless something could listen on host:port now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As servers bind (SO_REUSEADDR), so a port a closed server has just left counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise refusal(exc, host, port, variable, running) from None
