"""Finding personal identifiers in the text of a case story.

Each rule is a regular expression for one kind of identifier. The findings
name the kind and where it is (the line, for multi-line text), never the
identifier itself: the reasons end up in logs and terminals, which must not
repeat what they are protecting.

The rules lean towards finding too much: a refused publish costs an editor a
minute, a leaked identifier cannot be taken back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_DATE = (
    r"(?:\d{4}-\d{1,2}-\d{1,2}"  # 1985-03-14
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"  # 14/03/1985, 03-14-85
    rf"|{_MONTH}\s+{_DAY},?\s+\d{{4}}"  # March 14, 1985
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"  # 14 March 1985
    rf"|{_MONTH}\s+\d{{4}})"  # March 1985: month and year still narrow a person down
)

# An e-mail address: something@domain.tld.
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

# North American numbers in the usual spellings, and international ones with a +.
PHONE = re.compile(
    r"(?<![\w+-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-]?)\d{3}[\s.-]?\d{4}(?![\w-])"
    r"|(?<![\w+])\+\d{1,3}(?:[\s.-]?\d{2,4}){2,4}(?![\w-])"
)

# A date next to a word that says it is a birth date.
DATE_OF_BIRTH = re.compile(
    r"\b(?:born|birth(?:day|date)?|date\s+of\s+birth|d\.?o\.?b\b\.?)"
    rf"[^.\n]{{0,25}}?\b{_DATE}\b",
    re.IGNORECASE,
)

# Provincial health card numbers: Alberta and other nine-digit numbers (a
# social insurance number is caught too, and should be), Ontario's 4-3-3 with
# its version code, Quebec's four letters and eight digits; and any number
# written after words that announce one.
HEALTH_CARD = re.compile(
    r"(?<![\w-])(?:\d{5}[- ]?\d{4}|\d{3}[- ]\d{3}[- ]\d{3})(?![\w-])"
    r"|(?<![\w-])\d{4}[- ]\d{3}[- ]\d{3}(?:[- ]?[A-Z]{2})?(?![\w-])"
    r"|\b[A-Z]{4}[ ]?\d{4}[ ]?\d{4}\b"
    r"|\b(?:health\s*(?:card|insurance)|PHN|personal\s+health\s+(?:number|no)|AHCIP|OHIP|RAMQ)"
    r"\s*(?:number|no\.?|#)?\s*[:#-]?\s*(?:[A-Z]{1,4}[ -]?)?\d[\d -]{5,}\d",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rule:
    """One kind of identifier."""

    kind: str
    """What it is, as the reason says it: ``an e-mail address``."""
    plural: str
    pattern: re.Pattern[str]


# In the order reasons are listed. Phone numbers come before health card
# numbers: a ten-digit number written like a phone number is reported once,
# as a phone number.
RULES: tuple[Rule, ...] = (
    Rule("an e-mail address", "e-mail addresses", EMAIL),
    Rule("a phone number", "phone numbers", PHONE),
    Rule("a date of birth", "dates of birth", DATE_OF_BIRTH),
    Rule("a health card number", "health card numbers", HEALTH_CARD),
)


@dataclass(frozen=True)
class Finding:
    """Identifiers of one kind in one field."""

    field: str
    kind: str
    lines: tuple[int, ...]
    """Line numbers (1-based) of each occurrence."""
    count: int

    def message(self, multiline: bool) -> str:
        """The reason, without the identifier itself."""
        what = self.kind if self.count == 1 else f"{self.count} {self.kind}"
        where = ""
        if multiline:
            label = "line" if len(set(self.lines)) == 1 else "lines"
            where = f" ({label} {', '.join(str(n) for n in sorted(set(self.lines)))})"
        return f"contains {what}{where}"


def name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern matching any of ``names``, as ``First Last`` or ``Last, First``.

    Case and the spacing between words do not matter. None when there are no names.
    """
    alternatives = []
    for raw in names:
        words = raw.split()
        if len(words) < 2:
            continue  # a single word is not a full name, and would match too much
        escaped = [re.escape(w) for w in words]
        alternatives.append(r"\s+".join(escaped))
        alternatives.append(escaped[-1] + r",\s*" + r"\s+".join(escaped[:-1]))  # Last, First
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def find_identifiers(
    texts: Sequence[tuple[str, str]], names: re.Pattern[str] | None = None
) -> list[tuple[Finding, bool]]:
    """Every kind of identifier in each (field, text), with whether the text is multi-line."""
    rules: list[tuple[str, str, re.Pattern[str]]] = [(r.kind, r.plural, r.pattern) for r in RULES]
    if names is not None:
        rules.append(("a full name from the list of names", "full names from the list", names))
    out = []
    for field, text in texts:
        taken: list[tuple[int, int]] = []  # spans already reported under another kind
        for kind, plural, pattern in rules:
            lines = []
            for match in pattern.finditer(text):
                span = match.span()
                if any(span[0] < end and start < span[1] for start, end in taken):
                    continue
                taken.append(span)
                lines.append(text.count("\n", 0, span[0]) + 1)
            if lines:
                finding = Finding(
                    field=field,
                    kind=kind if len(lines) == 1 else plural,
                    lines=tuple(lines),
                    count=len(lines),
                )
                out.append((finding, "\n" in text.strip()))
    return out
