"""People's names: what is stored, what a certain match compares, what a search folds.

Folding (no diacritics) merges different Vietnamese names — Hà, Hạ, Hả — so it serves only to
find *possible* matches and to search; a certain match compares the name as written.
"""

from __future__ import annotations

import unicodedata

#: Characters that show nothing but make two names differ: format characters (zero-width
#: space and joiners, direction marks, soft hyphen, BOM — Unicode category Cf), the
#: combining grapheme joiner, variation selectors and Hangul fillers.
_INVISIBLE_EXTRA = frozenset(
    "\u034f\u115f\u1160\u3164\uffa0" + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)


def visible(value: str) -> str:
    """`value` in NFC with every invisible character removed (kept diacritics and all)."""
    return unicodedata.normalize(
        "NFC",
        "".join(
            ch for ch in value if unicodedata.category(ch) != "Cf" and ch not in _INVISIBLE_EXTRA
        ),
    )


def name_key(full_name: str) -> str:
    """Accent-free, lower-case, single-spaced: 'Nguyễn Thị  Hoà' -> 'nguyen thi hoa'. For
    finding *possible* matches only: folding merges different names (Hà, Hạ, Hả)."""
    decomposed = unicodedata.normalize(
        "NFD", visible(full_name).replace("đ", "d").replace("Đ", "D")
    )
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


def exact_name_key(full_name: str) -> str:
    """The name as written — diacritics kept — up to case, spacing, Unicode form and
    invisible characters: what a certain match compares."""
    return " ".join(visible(full_name).casefold().split())


def phone_key(phone: str) -> str:
    """A phone number as digits, the country code +84 written as the leading 0:
    '+84 912 345 678' and '0912.345.678' -> '0912345678'. Empty when it holds no digits."""
    digits = "".join(ch for ch in phone if ch.isascii() and ch.isdigit())
    if phone.strip().startswith("+84") or (digits.startswith("84") and len(digits) >= 11):
        digits = "0" + digits[2:]
    return digits[:20]
