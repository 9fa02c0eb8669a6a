"""The WSGI application for gunicorn: ``gunicorn 'kimia.web.wsgi:app'`` (docs/operations.md).
Settings come from the environment (kimia.settings), read once when the worker imports this."""

from __future__ import annotations

from kimia.web import create_app

app = create_app()
