"""gunicorn's settings for the web application (docs/operations.md, The web application):

    gunicorn -c python:kimia.web.gunicorn_conf kimia.web.wsgi:app      # or: kimia web gunicorn

The worker model: ONE worker process with many threads (``gthread``) by default. Each process
assembles its own service, and each service has one writer thread that group-commits every write
of the process; SQLite allows one writer at a time, so two processes would take turns at the file
lock instead of sharing one group commit (measured in docs/benchmarks.md, The JSON API). On
PostgreSQL more processes can help once one process's core is the bound: ``KIMIA_WEB_WORKERS``.

Settings from the environment, read by kimia.settings like every other (each worker reads the
service's own again when it assembles its service):

- ``KIMIA_WEB_BIND`` (``127.0.0.1:8000``): where to listen; TLS is terminated in front (a proxy).
- ``KIMIA_WEB_WORKERS`` (1) and ``KIMIA_WEB_THREADS`` (32): processes and threads per process.
- ``KIMIA_WEB_TIMEOUT_S`` (30): a worker silent this long is restarted; also the grace given to
  requests in flight on a graceful stop (SIGTERM).
- ``KIMIA_WEB_ACCESS_LOG`` (``-``, standard output; empty for none): one line per request with the
  path only: never the query string (it may hold a cursor or a search) nor a body.
"""

from __future__ import annotations

from typing import Any

from kimia.settings import Settings

_settings = Settings.from_env()
bind = [_settings.web_bind]
workers = _settings.web_workers
worker_class = "gthread"
threads = _settings.web_threads
timeout = _settings.web_timeout_s
graceful_timeout = timeout
keepalive = 5
# Each worker assembles its own service (its writer thread, its connections): never in the master.
preload_app = False
# Requests are small JSON (kimia.web.api.limits caps the body); these bound a slow or hostile client.
limit_request_line = 8190
limit_request_fields = 100
accesslog = _settings.web_access_log or None
errorlog = "-"
# %(U)s is the path without its query string; no request line (%(r)s), no body, no Authorization.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
proc_name = "kimia-web"
# gunicorn's control socket (gunicornc) is one fixed path per user: two servers on one machine
# would fight over it, and nothing here uses it.
control_socket_disable = True


def worker_exit(server: Any, worker: Any) -> None:
    """Close the worker's service (its writer drains and commits what it holds, its connections
    close) when the worker stops: a graceful stop loses no acknowledged write."""
    app = getattr(worker, "wsgi", None)
    extensions = getattr(app, "extensions", None)
    if extensions and "kimia" in extensions:
        extensions["kimia"].close()
