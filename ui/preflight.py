"""What ``newsdesk serve`` checks before anything heavy loads: the port and the login.

Only the standard library and :mod:`ui.auth` are imported here, so a busy port or a bad
``--auth-file`` fails in about a second with one line, not after Gradio, the collection and
the models have loaded (ten seconds and more)."""

from __future__ import annotations

import argparse
import errno
import socket

from ui.auth import read_api_key, read_credentials


def check_port(host: str, port: int) -> None:
    """Fail now, in one line naming ``--port``, when ``host:port`` cannot be bound.

    Raises:
        ValueError: the port is in use or the address cannot be bound.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            probe.bind(address)
    except OSError as exc:
        reason = "is already in use" if getattr(exc, "errno", None) == errno.EADDRINUSE else \
            f"cannot be used ({exc.strerror or exc})"
        raise ValueError(f"port {port} on {host} {reason}; choose another with --port "
                         f"(or stop what is serving there)") from None


def preflight(args: argparse.Namespace) -> tuple[str, str] | None:
    """Check ``serve``'s port, its API key (``--api-key-file``, ``NEWSDESK_API_KEY``) and read its
    login (``--auth-file``, ``NEWSDESK_AUTH``, ``--auth``); the login to require, or None.

    Raises:
        ValueError: the port cannot be bound, or the key or login is unreadable or malformed.
    """
    check_port(args.host, args.port)
    read_api_key(getattr(args, "api_key_file", None))
    return read_credentials(getattr(args, "auth", None), getattr(args, "auth_file", None))
