"""Tokenizer for the formula language.

Hand-written rather than regex-driven so every token keeps its exact offset (for the caret)
and so that characters users type by accident on a Chinese keyboard (full-width brackets,
commas, quotes) get a message that says what to type instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from engines.form.formula.errors import FormulaError

MAX_FORMULA_LENGTH = 4000
MAX_NUMBER_LITERAL_DIGITS = 38
MAX_TOKENS = 1000

KEYWORDS = frozenset({"and", "or", "not", "true", "false", "null"})

# Two-character operators first so "<=" is not read as "<" then "=".
_OPERATORS = ("<=", ">=", "!=", "<>", "==", "+", "-", "*", "/", "&", "=", "<", ">", "(", ")",
              ",", ".")

_FULL_WIDTH_HINTS = {
    "（": "(", "）": ")", "，": ",", "‘": "'", "’": "'", "“": '"', "”": '"', "＋": "+",
    "－": "-", "＊": "*", "／": "/", "＝": "=", "＜": "<", "＞": ">", "＆": "&", "。": ".",
    "\u3000": " ",
}

_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}


class Kind(Enum):
    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    KEYWORD = "keyword"
    OP = "operator"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # the operator, name, keyword (lower-cased), number digits, or string value
    position: int


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, ending with an END token; raise FormulaError on junk."""
    if len(source) > MAX_FORMULA_LENGTH:
        raise FormulaError(
            f"formula is too long ({len(source)} characters, at most {MAX_FORMULA_LENGTH})", 0
        )
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if len(tokens) >= MAX_TOKENS:
            raise FormulaError(f"formula has too many tokens (at most {MAX_TOKENS})", i)
        if ch.isascii() and ch.isdigit():
            token, end = _number(source, i)
        elif ch in "'\"":
            token, end = _string(source, i)
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            j = i + 1
            while j < n and source[j].isascii() and (source[j].isalnum() or source[j] == "_"):
                j += 1
            word = source[i:j]
            if word.lower() in KEYWORDS:
                token, end = Token(Kind.KEYWORD, word.lower(), i), j
            else:
                token, end = Token(Kind.NAME, word, i), j
        else:
            op = next((o for o in _OPERATORS if source.startswith(o, i)), None)
            if op is None or source.startswith("**", i):
                raise FormulaError(_unexpected_character_message(source, i), i)
            token, end = Token(Kind.OP, op, i), i + len(op)
        tokens.append(token)
        i = end
    tokens.append(Token(Kind.END, "", n))
    return tokens


def _number(source: str, start: int) -> tuple[Token, int]:
    j = start
    n = len(source)
    while j < n and source[j].isascii() and source[j].isdigit():
        j += 1
    if j + 1 < n and source[j] == "." and source[j + 1].isascii() and source[j + 1].isdigit():
        j += 1
        while j < n and source[j].isascii() and source[j].isdigit():
            j += 1
    text = source[start:j]
    if len(text) > MAX_NUMBER_LITERAL_DIGITS:
        raise FormulaError(
            f"number literal is too long (at most {MAX_NUMBER_LITERAL_DIGITS} digits)", start
        )
    if j < n and source[j].isascii() and (source[j].isalpha() or source[j] == "_"):
        raise FormulaError(f"unexpected {source[j]!r} after a number", j)
    return Token(Kind.NUMBER, text, start), j


def _string_end(source: str, start: int) -> int:
    """Offset just past the closing quote of the string literal opening at ``start``."""
    quote = source[start]
    j = start + 1
    while j < len(source):
        if source[j] == "\\":
            j += 2
            continue
        if source[j] == quote:
            return j + 1
        j += 1
    raise FormulaError("text is missing its closing quote", start)


def _string(source: str, start: int) -> tuple[Token, int]:
    end = _string_end(source, start)
    out: list[str] = []
    j = start + 1
    while j < end - 1:
        ch = source[j]
        if ch == "\\":
            nxt = source[j + 1]
            if nxt not in _ESCAPES:
                raise FormulaError(f"unknown escape \\{nxt} (use \\\\, \\', \\\", \\n or \\t)", j)
            out.append(_ESCAPES[nxt])
            j += 2
        else:
            out.append(ch)
            j += 1
    return Token(Kind.STRING, "".join(out), start), end


def _unexpected_character_message(source: str, i: int) -> str:
    ch = source[i]
    if ch in _FULL_WIDTH_HINTS:
        return f"full-width character {ch!r}: type {_FULL_WIDTH_HINTS[ch]!r} instead"
    if ch == "^" or source.startswith("**", i):
        return "there is no exponent operator; use power(x, n)"
    if ch == "%":
        return "there is no % operator; use mod(a, b) or write the percentage as a number"
    if ch in "[]{}":
        return f"unexpected {ch!r}: formulas have no lists or indexing"
    return f"unexpected character {ch!r}"
