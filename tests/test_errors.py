"""The one error catalogue (core/src/errors.rs, read by kimia/errors.py).

Fails when
(a) kimia raises a code the catalogue lacks: every code literally named where a rejection is built
    (``reject``, ``fail``, ``Rejected``, ``KimiaError``, ``RuleError``, ``IdentifierError``,
    ``RoleError`` in kimia/; ``CoreError::new`` in core/src) is listed, and building a rejection
    with an unlisted code raises at run time;
(b) a catalogue code is never tested: each appears in a test file other than this one (or is
    marked unreachable in the catalogue, with the reason);
(c) the terminal's response-code table names a code that does not exist, or a code has neither a
    response code, nor the documented default, nor a place among those the terminal never meets;
and when the generated ``ErrorCode`` Literal (kimia/error_codes.py) or docs/errors.md is stale.
"""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest

import kimia
from kimia import _core, error_docs
from kimia.error_codes import ErrorCode
from kimia.errors import CATALOGUE, PYTHON_CODES, KimiaError, Phrase, Rejected, RuleError, UnlistedErrorCode, message, reject
from kimia.identifiers import IDENTIFIER_ERRORS, IdentifierError
from kimia.store.roles import RoleError
from kimia.terminal.handlers import RESPONSE_FOR_ERROR as HANDLERS_TABLE
from kimia.terminal.handlers import response_code_for
from kimia.terminal.response_codes import DEFAULT_RESPONSE, NOT_MET_AT_TERMINAL, RESPONSE_CODES, RESPONSE_FOR_ERROR

ROOT = Path(__file__).resolve().parent.parent
#: Callables whose first argument is an error code.
BUILDERS = {"reject", "fail", "message", "Rejected", "KimiaError", "RuleError", "IdentifierError", "RoleError", "_digits"}


# --- the catalogue itself -----------------------------------------------------------------------


def test_the_catalogue_is_complete_and_well_formed() -> None:
    entries = _core.error_catalogue()
    codes = [e["code"] for e in entries]
    assert len(codes) == len(set(codes)) == len(CATALOGUE) > 80
    assert [e["precedence"] for e in entries] == list(range(1, len(entries) + 1))
    for e in entries:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", e["code"]), e
        assert e["origin"] in {"core", "service", "identifiers", "terminal", "cli", "store", "web"}, e
        assert set(re.findall(r"\{(\w+)\}", e["en"])) == set(re.findall(r"\{(\w+)\}", e["fa"])), e["code"]
        assert re.search("[\u0600-\u06ff]", e["fa"]) and not re.search("[\u0600-\u06ff]", e["en"]), e["code"]
    # The core's own list is the catalogue's core part; kimia.error_codes() lists every layer's.
    assert [c for c, _, _ in _core.error_codes()] == [c for c, s in CATALOGUE.items() if s.origin == "core"]
    assert [c for c, _, _ in kimia.error_codes()] == codes
    assert PYTHON_CODES == {c for c, s in CATALOGUE.items() if s.origin != "core"}
    assert set(IDENTIFIER_ERRORS) == {c for c, s in CATALOGUE.items() if s.origin == "identifiers"}


def test_the_literal_type_is_the_catalogue() -> None:
    """kimia/error_codes.py is generated; regenerate it with ``python -m kimia.error_docs``."""
    assert list(typing.get_args(ErrorCode)) == list(CATALOGUE)
    assert (ROOT / "kimia" / "error_codes.py").read_text(encoding="utf-8") == error_docs.render_literal()


def test_the_errors_doc_is_up_to_date() -> None:
    """docs/errors.md is generated; regenerate it with ``python -m kimia.error_docs``."""
    assert error_docs.main(["--check"]) == 0
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    for spec in CATALOGUE.values():
        assert f"| {spec.precedence} | `{spec.code}` |" in doc


def test_one_wording_per_code() -> None:
    # The service's insufficient_balance is worded as the core's (it used to differ).
    e = reject("insufficient_balance", account="member:1/points", needed=5, available=3)
    assert e.message_en == "Not enough balance in member:1/points: needs 5, has 3"
    assert e.message_fa == "موجودی member:1/points کافی نیست: نیاز 5، موجود 3"
    assert e.params == {"account": "member:1/points", "needed": "5", "available": "3"}
    phrase = reject("invalid_tier_config", detail=Phrase("no tiers", "طبقه‌ای تعریف نشده"))
    assert phrase.message_fa == "پیکربندی طبقات نامعتبر است: طبقه‌ای تعریف نشده" and phrase.params == {"detail": "no tiers"}
    assert message("unknown_member", "fa") == CATALOGUE["unknown_member"].fa


# --- (a) no code outside the catalogue -------------------------------------------------------------


def _python_literal_codes() -> dict[str, list[str]]:
    """Every string literal in the first argument of a rejection builder in kimia/, by code."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "kimia").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if name not in BUILDERS:
                continue
            for code in _codes_in(node.args[0]):
                found.setdefault(code, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _codes_in(expr: ast.expr) -> list[str]:
    """The codes an argument can be: a string, or either branch of ``a if cond else b``."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.IfExp):
        return _codes_in(expr.body) + _codes_in(expr.orelse)
    return []


def _rust_literal_codes() -> dict[str, list[str]]:
    """Codes passed to ``CoreError::new`` in core/src, literally or through a ``code`` chosen by an
    ``if`` on the line before, and the codes ``from_py`` is given."""
    found: dict[str, list[str]] = {}
    patterns = [r'CoreError::new\("([a-z_]+)"\)', r'let code = if [^{]*\{ "([a-z_]+)" \} else \{ "([a-z_]+)" \}',
                r'from_py(?:::<[^>]*>)?\([^;]*?"(?:Rejected|RuleError)", "([a-z_]+)"\)']
    for path in sorted((ROOT / "core" / "src").rglob("*.rs")):
        text = path.read_text(encoding="utf-8")
        for pattern in patterns:
            for match in re.finditer(pattern, text):
                for code in filter(None, match.groups()):
                    line = text.count("\n", 0, match.start()) + 1
                    found.setdefault(code, []).append(f"{path.relative_to(ROOT)}:{line}")
    return found


def test_every_code_named_in_the_code_is_listed() -> None:
    python, rust = _python_literal_codes(), _rust_literal_codes()
    assert len(python) > 60 and len(rust) > 30, "the scan found too little: has the code's shape changed?"
    unlisted = {code: where for code, where in {**python, **rust}.items() if code not in CATALOGUE and code != "no_such_code"}
    assert not unlisted, f"codes missing from core/src/errors.rs: {unlisted}"


@pytest.mark.parametrize("build", [
    lambda: Rejected("no_such_code", "x", "x"),
    lambda: KimiaError("no_such_code", "x"),
    lambda: RuleError("no_such_code", "x"),
    lambda: reject("no_such_code"),  # type: ignore[arg-type]
    lambda: IdentifierError("no_such_code", "field"),  # type: ignore[arg-type]
    lambda: RoleError("no_such_code"),  # type: ignore[arg-type]
])
def test_an_unlisted_code_is_refused_at_run_time(build: typing.Callable[[], object]) -> None:
    with pytest.raises(UnlistedErrorCode, match="no_such_code"):
        build()


def test_the_core_raises_only_listed_codes() -> None:
    with pytest.raises(Rejected) as refused:
        kimia.split_amount(-1, [1])
    assert refused.value.code in CATALOGUE
    assert refused.value.message_en == CATALOGUE["amount_must_be_positive"].en


# --- (b) every code is tested ---------------------------------------------------------------------


def test_every_code_is_raised_by_some_test() -> None:
    texts = {p: p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name}
    untested = [code for code, spec in CATALOGUE.items()
                if not spec.unreachable and not any(re.search(rf"\b{code}\b", text) for text in texts.values())]
    assert not untested, f"no test names these codes: {untested}"
    for code, spec in CATALOGUE.items():
        if spec.unreachable:
            assert len(spec.unreachable) > 30, f"{code}: say why no input reaches it"


# --- (c) the terminal's table ------------------------------------------------------------------------


def test_the_terminal_table_names_only_catalogue_codes() -> None:
    assert HANDLERS_TABLE is RESPONSE_FOR_ERROR
    assert set(RESPONSE_FOR_ERROR) <= set(CATALOGUE), set(RESPONSE_FOR_ERROR) - set(CATALOGUE)
    assert set(NOT_MET_AT_TERMINAL) <= set(CATALOGUE), set(NOT_MET_AT_TERMINAL) - set(CATALOGUE)
    assert not set(RESPONSE_FOR_ERROR) & set(NOT_MET_AT_TERMINAL)
    assert set(RESPONSE_FOR_ERROR.values()) <= set(RESPONSE_CODES) and DEFAULT_RESPONSE in RESPONSE_CODES
    assert "00" not in RESPONSE_FOR_ERROR.values()


def test_every_code_the_terminal_meets_has_an_answer() -> None:
    for code in CATALOGUE:
        answer = response_code_for(reject(typing.cast(ErrorCode, code)))
        if code in RESPONSE_FOR_ERROR:
            assert answer == RESPONSE_FOR_ERROR[typing.cast(ErrorCode, code)]
        else:  # met at a terminal or not, the documented default
            assert answer == DEFAULT_RESPONSE, code
        assert error_docs.response_of(code) in {answer, f"{answer} (default)", "—"}
