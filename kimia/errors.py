"""kimia's errors: a stable snake_case code plus readable messages in English and Persian.

The Rust core raises these classes (``kimia._core`` imports this module when it rejects
something), so Python callers catch one family of exceptions whatever layer said no.
"""

from __future__ import annotations

from typing import Any


class KimiaError(Exception):
    """Base of every kimia rejection. Nothing was changed when one is raised."""

    def __init__(
        self,
        code: str,
        message_en: str,
        message_fa: str = "",
        path: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code, message_en, message_fa, path, params or {})
        self.code = code
        self.message_en = message_en
        self.message_fa = message_fa or message_en
        self.path = path
        self.params: dict[str, Any] = dict(params or {})

    def __str__(self) -> str:
        where = f" (at {self.path})" if self.path else ""
        return f"{self.code}: {self.message_en}{where}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by the API and the panel."""
        return {
            "code": self.code,
            "message_en": self.message_en,
            "message_fa": self.message_fa,
            "path": self.path,
            "params": self.params,
        }


class RuleError(KimiaError):
    """A rule set that cannot be compiled; ``path`` names the offending field."""


class Rejected(KimiaError):
    """An operation the core refused (bad input, not enough balance, an exhausted budget, ...)."""


def error_codes() -> list[tuple[str, str, str]]:
    """Every rejection code of the core with its English and Persian message templates."""
    from kimia import _core

    return list(_core.error_codes())
