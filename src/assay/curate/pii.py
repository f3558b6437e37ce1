"""Personal data in text: e-mail addresses, phone numbers, IPv4 addresses, card numbers, IBANs.

Card numbers must pass the Luhn check and IBANs their ISO 13616 mod-97 checksum, so an
order number or a random digit string is not taken for one. Phone numbers are the
international form (``+`` and 8 to 15 digits) and the North American one
(``(555) 123-4567``, ``555-123-4567``); a bare run of digits is not a phone number.
Kinds are found in the order of ``KINDS`` and each match is masked before the next kind
is looked for, so a card number is never also counted as a phone number.

>>> scrub("Mail jo@example.org or call +44 20 7946 0958.")
('Mail [EMAIL] or call [PHONE].', {'email': 1, 'phone': 1})
>>> luhn_ok("4111 1111 1111 1111"), luhn_ok("4111 1111 1111 1112")
(True, False)
>>> iban_ok("GB82 WEST 1234 5698 7654 32"), iban_ok("GB82 WEST 1234 5698 7654 33")
(True, False)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

KINDS = ("iban", "credit_card", "email", "ip", "phone")
PLACEHOLDERS = {"iban": "[IBAN]", "credit_card": "[CREDIT_CARD]", "email": "[EMAIL]", "ip": "[IP]",
                "phone": "[PHONE]"}


def luhn_ok(number: str) -> bool:
    """The Luhn (mod 10) check of the digits of ``number`` (ISO/IEC 7812)."""
    digits = [int(c) for c in number if c.isdigit()]
    if not digits:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """The ISO 13616 check of an IBAN: the country code and check digits moved to the end, letters
    as 10..35, the number mod 97 is 1."""
    s = re.sub(r"\s", "", iban).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IP = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d]|\.\d)")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
# an IBAN written plain or in groups of four; the longest checksum-valid prefix is taken
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![a-z0-9])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}"   # +CC groups
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"                      # (555) 123-4567
    r"|\d{3}[.-]\d{3}[.-]\d{4})(?![\w])")                    # 555-123-4567


def _iban_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _IBAN.finditer(text):
        s = m.group(0)
        for end in range(len(s), 14, -1):  # shortest IBAN is 15 characters
            if s[end - 1] != " " and (end == len(s) or s[end] == " ") and iban_ok(s[:end]):
                spans.append((m.start(), m.start() + end))
                break
    return spans


def _plain(pattern: re.Pattern, ok: Callable[[str], bool] | None = None) -> Callable[[str], list[tuple[int, int]]]:
    def find(text: str) -> list[tuple[int, int]]:
        return [m.span() for m in pattern.finditer(text) if ok is None or ok(m.group(0))]
    return find


def _phone_ok(s: str) -> bool:
    n = sum(c.isdigit() for c in s)
    return 8 <= n <= 15 if s.startswith("+") else n == 10


_FINDERS: dict[str, Callable[[str], list[tuple[int, int]]]] = {
    "iban": _iban_spans,
    "credit_card": _plain(_CARD, luhn_ok),
    "email": _plain(_EMAIL),
    "ip": _plain(_IP),
    "phone": _plain(_PHONE, _phone_ok),
}


def scrub(text: str, kinds: Sequence[str] = KINDS) -> tuple[str, dict[str, int]]:
    """``text`` with each piece of personal data replaced by its placeholder, and the count per kind."""
    counts: Counter = Counter()
    for kind in KINDS:
        if kind not in kinds:
            continue
        spans = _FINDERS[kind](text)
        if not spans:
            continue
        out, last = [], 0
        for start, end in spans:
            out.append(text[last:start])
            out.append(PLACEHOLDERS[kind])
            last = end
        out.append(text[last:])
        text = "".join(out)
        counts[kind] += len(spans)
    return text, dict(counts)
