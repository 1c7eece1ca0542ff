"""Read a client's reply: a rating 1–5, a verdict (approved or objections) and a comment.

Pure functions only, so the rules can be tested without Redis or HTTP.

A rating is recognised, in this order of precedence, from:

- a keyword and a digit: «оценка 4», «оценка: 5», «ставлю 5», «оцениваю на 3»;
- a fraction: «4/5», «4 из 5»;
- a count of points or stars: «5 баллов», «4 звезды»;
- star symbols: ★★★★☆ is 4 (filled stars are counted, empty ☆ ignored);
- thumbs: 👍 is 5 and 👎 is 1;
- a lone digit 1–5, alone or next to a verdict: «5», «Согласовано, 5».

Digits that are part of a word, a document number, a decimal or a date never become a
rating, so «по счёту БП-000123 всё ок» has none.

Objections win over approvals, so «согласовано, но есть замечания» is `objections`.
The comment is the text without the rating fragment; it is empty when nothing but a
verdict phrase and punctuation is left («Согласовано, оценка 5»).
"""

import re
from dataclasses import dataclass
from enum import Enum

MIN_RATING = 1
MAX_RATING = 5

THUMBS_UP_RATING = 5
THUMBS_DOWN_RATING = 1


class Verdict(str, Enum):
    """The client's decision on the document; the values are part of the 1C contract."""

    APPROVED = "approved"
    OBJECTIONS = "objections"


#: Russian label of each verdict for logs and CLI output.
VERDICT_LABELS = {Verdict.APPROVED: "согласовано", Verdict.OBJECTIONS: "есть возражения"}


@dataclass(frozen=True)
class Reply:
    """A client's reply after parsing."""

    rating: int | None
    verdict: Verdict | None
    comment: str
    #: The text without the rating fragment, for finding a document number in it.
    text_without_rating: str


_FLAGS = re.IGNORECASE | re.UNICODE

# A digit 1–5 that is not part of a longer number, a decimal such as 4,5 or a word.
_DIGIT = r"(?P<value>[1-5])(?!\d)(?![.,]\d)(?!\w)"

_KEYWORD_RATING = re.compile(
    r"(?<!\w)(?:оценк[аеиуо]й?|оцениваю|оцениваем|ставлю|ставим)"
    r"(?:\s+на)?\s*[:=\-–—]?\s*" + _DIGIT
    + r"(?:\s*(?:/|из)\s*5(?!\d))?(?:\s*(?:балл\w*|зв[её]зд\w*))?",
    _FLAGS,
)
_FRACTION_RATING = re.compile(
    r"(?<![\w./\-])(?P<value>[1-5])\s*(?:/|из)\s*5(?![\d\w])", _FLAGS)
_POINTS_RATING = re.compile(
    r"(?<![\w.,/\-])(?P<value>[1-5])\s*(?:балл\w*|зв[её]зд\w*)", _FLAGS)

_FILLED_STARS = "★⭐🌟"
_STAR_RUN = re.compile("(?:[★⭐🌟☆]\ufe0f?)+")
_THUMBS_UP = re.compile("\U0001F44D[\U0001F3FB-\U0001F3FF]?\ufe0f?")
_THUMBS_DOWN = re.compile("\U0001F44E[\U0001F3FB-\U0001F3FF]?\ufe0f?")

# The whole remainder is one digit, with punctuation or emoji around it but no № or #.
_LONE_DIGIT = re.compile(r"[^\w№#]*(?P<value>[1-5])[^\w№#]*", _FLAGS)

_OBJECTIONS = [re.compile(r"(?<!\w)" + pattern, _FLAGS) for pattern in (
    r"не\s+соглас\w*",
    r"несоглас\w*",
    r"не\s+подпи\w*",
    r"не\s+(?:устраива\w*|принима\w*|утвержда\w*|утверд\w*)",
    r"не\s+(?:ок|окей|ok)(?!\w)",
    r"(?:есть|имеются|имеется|остались|будут)\s+(?:замечани\w*|возражени\w*|правк\w*)",
    r"замечани[яе]\s*(?::|по(?!\w)|к(?!\w))",
    r"(?:нужн\w*|требу\w*|внесите)\s+(?:правк\w*|исправлени\w*|доработк\w*)",
    r"возражаем",
    r"на\s+доработку",
)]

_APPROVALS = [re.compile(r"(?<!\w)" + pattern, _FLAGS) for pattern in (
    r"соглас(?:овано|овываем|овали|ен|на|ны)(?!\w)",
    r"(?:подпис(?:ываем|ываю|али|ано|ан|аны)|подпишем|подпишу)(?!\w)",
    r"(?:утвержда(?:ю|ем)|утвержд[её]н[оы]?)(?!\w)",
    r"(?:принято|принимаем)(?!\w)",
    r"(?:ок|окей|ok|okay)(?!\w)",
    r"вс[её]\s+(?:верно|хорошо|отлично|устраивает|правильно)(?!\w)",
    r"(?:замечаний|возражений)\s+нет(?!\w)",
    r"(?:нет|без)\s+(?:замечаний|возражений)(?!\w)",
    r"👌",
)]

# Characters that separate a rating from the words around it.
_SEPARATORS = " \t\r\n\u00a0,;:-–—"


def parse_reply(text: str) -> Reply:
    """Parse the rating, verdict and comment out of one chat message."""
    verdict = find_verdict(text)

    rating, span = _explicit_rating(text)
    if rating is None:
        rating, span = _lone_digit_rating(text)

    remainder = _cut(text, span) if span else text
    remainder = _tidy(remainder)
    comment = remainder if _has_words_beyond_verdict(remainder) else ""
    return Reply(rating=rating, verdict=verdict, comment=comment,
                 text_without_rating=remainder)


def find_verdict(text: str) -> Verdict | None:
    """Return `objections` when any objection phrase occurs, else `approved` or None.

    Objection phrases are blanked out before approvals are searched, so «не согласовано»
    does not also count as «согласовано».
    """
    masked = text
    found_objection = False
    for pattern in _OBJECTIONS:
        masked, count = pattern.subn(" ", masked)
        found_objection = found_objection or count > 0
    if found_objection:
        return Verdict.OBJECTIONS

    if any(pattern.search(masked) for pattern in _APPROVALS):
        return Verdict.APPROVED
    return None


def _explicit_rating(text: str) -> tuple[int | None, tuple[int, int] | None]:
    """Find a rating written with a keyword, a fraction, points, stars or thumbs."""
    for pattern in (_KEYWORD_RATING, _FRACTION_RATING, _POINTS_RATING):
        match = pattern.search(text)
        if match:
            return int(match["value"]), match.span()

    for run in _STAR_RUN.finditer(text):
        filled = sum(1 for char in run.group() if char in _FILLED_STARS)
        if MIN_RATING <= filled <= MAX_RATING:
            return filled, run.span()

    up, down = _THUMBS_UP.search(text), _THUMBS_DOWN.search(text)
    if up and not down:
        return THUMBS_UP_RATING, up.span()
    if down and not up:
        return THUMBS_DOWN_RATING, down.span()
    return None, None


def _lone_digit_rating(text: str) -> tuple[int | None, tuple[int, int] | None]:
    """Find a digit 1–5 that is the only thing left once verdict phrases are blanked out."""
    masked = _mask_verdict_phrases(text)
    match = _LONE_DIGIT.fullmatch(masked)
    if match is None:
        return None, None
    return int(match["value"]), match.span("value")


def _mask_verdict_phrases(text: str) -> str:
    """Replace verdict phrases with spaces of the same length, keeping offsets intact."""
    masked = text
    for pattern in (*_OBJECTIONS, *_APPROVALS):
        masked = pattern.sub(lambda match: " " * len(match.group()), masked)
    return masked


def _has_words_beyond_verdict(text: str) -> bool:
    """Tell whether the text contains words besides verdict phrases and punctuation."""
    return bool(re.search(r"\w", _mask_verdict_phrases(text)))


def _cut(text: str, span: tuple[int, int]) -> str:
    """Remove the rating fragment together with the separators around it."""
    start, end = span
    left = text[:start].rstrip(_SEPARATORS)
    right = text[end:].lstrip(_SEPARATORS)
    if not left:
        return right.lstrip(_SEPARATORS + ".!?")
    if not right or right[0] in ".!?\n":
        return left + right
    return f"{left} {right}"


def _tidy(text: str) -> str:
    """Collapse runs of spaces (not line breaks) and strip separators left at the edges."""
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    joined = "\n".join(line for line in lines if line)
    return joined.strip(_SEPARATORS)
