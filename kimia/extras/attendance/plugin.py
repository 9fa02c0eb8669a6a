"""The attendance extra's hooks (registered as a built-in plugin: kimia.plugins.manager)."""

from __future__ import annotations
