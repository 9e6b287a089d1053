"""`publisher import`: a plain-text news page (dated items between page navigation) to releases.

A page looks like the seed: navigation, then items that each start with a line such as
"11 February 2020 In Press Releases" (or "11 شباط 2020 في بيانات صحفية"), then the item's
paragraphs, perhaps a press-release header block, a "(Source: ...)" attribution and a "# # #"
end mark, then more navigation. Items have no headline, so the title and the lede are taken
from the first sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from babel import Locale

from publisher.errors import ReleaseError, ReleaseErrors
from publisher.release import fold_lines, make_id, parse_release_bytes
from publisher.render import sentences

TITLE_MAX = 90
SUMMARY_MAX = 300
NO_ITEMS_FIX = "each item must start with a line like '11 February 2020 In Press Releases'"
# Month and weekday names come from Babel; Syria, Lebanon and Iraq use the Syriac month names
# (شباط), Egypt and the Gulf the Latin ones (فبراير), the Maghreb its own (فيفري).
DATE_LOCALES = ("en", "ar", "ar_SY", "ar_IQ", "ar_MA", "ar_DZ", "fr", "de", "es")
CATEGORY_SEPARATORS = re.compile(r"\s(?:in|في|dans|en)\s", re.IGNORECASE)
YEAR = re.compile(r"\d{4}")
_WEEKDAY, _DAY = r"^(?:(?P<weekday>[^\W\d_]+)[,،]?\s+)?", r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\.?"
_MONTH, _YEAR = r"(?P<month>[^\W\d_][^\d,،]*?)", r"[,،]?\s+(?P<year>\d{4})$"
DMY = re.compile(rf"{_WEEKDAY}{_DAY}\s+{_MONTH}{_YEAR}", re.IGNORECASE)  # 11 February 2020
MDY = re.compile(rf"{_WEEKDAY}{_MONTH}\s+{_DAY}{_YEAR}", re.IGNORECASE)  # February 11, 2020
SENTENCE_END = re.compile(r"[.!?؟۔…。！？][\"'”’»)\]]*$")
ABBREVIATION = re.compile(
    r"(?:\b[A-Z]\.|\b(?:Mr|Mrs|Ms|Dr|Prof|Gen|Col|Lt|Maj|Capt|Sgt|St|No|Jr|Sr|Inc|Ltd|Co|vs"
    r"|etc|e\.g|i\.e|Jan|Feb|Aug|Sept?|Oct|Nov|Dec)\.)$"
)
ATTRIBUTION = re.compile(r"\s*\(\s*(?:source|المصدر)\s*[:：]\s*([^()]+?)\s*\)\s*$", re.I)
SOURCE_LINE = re.compile(r"^\(?(?:source|المصدر)\s*[:：]\s*([^()]{1,120}?)\)?$", re.I)
END_MARK = re.compile(r"^(?:#\s*#\s*#|-\s*30\s*-|-*\s*ends?\s*-*|\*\s*\*\s*\*|انتهى)$", re.I)
PRESS_HEADER = re.compile(
    r"^(?:press\s+release|press\s+statement|media\s+release|statement|بيان\s+صحفي|بيان)$", re.I
)
# Page chrome that can appear anywhere on a page; anchored, and only tried on short lines.
NAV_LINE = re.compile(
    r"""^(?:home(?:\s*[>»›/|].*|\s+.*\b(?:news|media|center|centre|press)\b.*)?
    |.*\bfiltered\s+by\b.*|.*حسب\s+التاريخ.*|الرئيسية(?:\s.*)?
    |read\s+more.*|more\s+news|share(?:\s+(?:this|on)\b.*)?|tweet|print(?:\s+this\b.*)?
    |e-?mail(?:\s+this\b.*)?|facebook|twitter|whatsapp|telegram|linkedin|youtube
    |back(?:\s+to\s+top)?|(?:next|previous|prev|older|newer)(?:\s+(?:posts|entries|news|page))?
    |page\s+\d+(?:\s+of\s+\d+)?|[\d\s«»<>|]+(?:next|التالي)?|(?:tags|related|categories)\s*:.*
    |اقرأ\s+المزيد|المزيد|مشاركة|شارك|طباعة|التالي|السابق)$""",
    re.IGNORECASE | re.VERBOSE,
)
NAV_MAX_WORDS = 14
DANGLING_WORDS = set(
    "a an the of and or but to in on at by for from with as that which who whose than its their"
    " his her our into over after before during between about against while when where is are"
    " was were be been has have had will would و في من على إلى عن مع أن التي الذي".split()
)
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200e\u200f\u061c\u0640"), None)


@dataclass(frozen=True)
class ImportedItem:
    """One dated item of a news page, ready to become a release file."""

    id: str
    title: str
    date: date
    category: str
    source: str
    summary: str
    language: str
    paragraphs: tuple[str, ...]
    line: int = 0
    source_name: str = ""

    @property
    def body(self) -> str:
        """The paragraphs as Markdown, escaped so that page text never becomes markup."""
        return "\n\n".join(escape_markdown(p) for p in self.paragraphs) + "\n"

    def front_matter(self) -> dict[str, Any]:
        """The YAML front matter; `id` only when it differs from the one made from the title."""
        data: dict[str, Any] = {}
        if self.id != make_id(self.title, datetime.combine(self.date, time())):
            data["id"] = self.id
        data.update(title=self.title, date=self.date, category=self.category)
        data.update(source=self.source, summary=self.summary, language=self.language)
        return {k: v for k, v in data.items() if v not in ("", None)}

    def to_markdown(self) -> str:
        """The whole release file: front matter, then the body."""
        meta = yaml.safe_dump(
            self.front_matter(), allow_unicode=True, sort_keys=False, width=10_000
        )
        return f"---\n{meta}---\n\n{self.body}"


class WriteResult(list[Path]):
    """The files `write_releases` wrote (the list itself) and those it `skipped` as existing."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[Path] = []

    @property
    def written(self) -> list[Path]:
        return list(self)


def import_file(path: Path, out_dir: Path) -> tuple[list[Path], list[Path]]:
    """Import one page file into release files in out_dir: (written, skipped)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        problem = "no such file" if isinstance(exc, FileNotFoundError) else "cannot be read"
        raise ReleaseErrors([ReleaseError(str(path), "file", problem, "check the path")]) from None
    result = write_releases(import_page(decode_page(raw, str(path)), str(path)), out_dir)
    return result.written, result.skipped


def decode_page(raw: bytes, source_name: str) -> str:
    """The text of a page file; ReleaseErrors if it is binary or not UTF-8."""
    if b"\x00" in raw:
        raise _page_error(source_name, "is binary, not text", "import a plain-text (UTF-8) page")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"is not UTF-8 (bad byte at offset {exc.start})"
        raise _page_error(source_name, problem, "save the page as UTF-8 text") from None


def import_page(text: str, source_name: str) -> list[ImportedItem]:
    """The dated items of a plain-text news page, in page order; ReleaseErrors if none."""
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
    if "\x00" in text or controls > max(3, len(text) // 200):
        raise _page_error(source_name, "is binary, not text", "import a plain-text (UTF-8) page")
    lines = [_clean_line(line).strip() for line in text.splitlines()]
    starts = [(n, found) for n, line in enumerate(lines) if (found := parse_item_header(line))]
    items: list[ImportedItem] = []
    seen: set[tuple[Any, ...]] = set()
    ids: set[str] = set()
    for index, (start, (when, category, month_language)) in enumerate(starts):
        is_last = index == len(starts) - 1
        end = len(lines) if is_last else starts[index + 1][0]
        item = _build_item(lines[start + 1 : end], when, category, month_language, is_last)
        if item is None:
            continue  # a dated header with no text (a dangling listing entry)
        key = (when, category, item.paragraphs)
        if key in seen:
            continue  # the same item listed twice on one page
        seen.add(key)
        release_id = item.id
        for suffix in range(2, len(starts) + 2):  # two different items with the same title
            if release_id not in ids:
                break
            release_id = f"{item.id}-{suffix}"
        ids.add(release_id)
        items.append(replace(item, id=release_id, line=start + 1, source_name=source_name))
    if not items:
        raise _page_error(source_name, "no dated items found", NO_ITEMS_FIX)
    return items


def write_releases(items: Iterable[ImportedItem], out_dir: Path) -> WriteResult:
    """Write each item as `{id}.md` in out_dir, never overwriting: existing files are skipped."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"cannot be created ({exc.strerror})"
        raise ReleaseErrors(
            [ReleaseError(str(out_dir), "--out", problem, "name a folder")]
        ) from None
    planned = []
    for item in items:
        target = out_dir / f"{item.id}.md"
        content = item.to_markdown().encode("utf-8")
        # Validate everything before writing anything, so a bad page writes nothing.
        parse_release_bytes(content, str(target))
        planned.append((target, content))
    result = WriteResult()
    for target, content in planned:
        if _create_exclusive(target, content):
            result.append(target)
        else:
            result.skipped.append(target)
    return result


def parse_item_header(line: str) -> tuple[date, str, str] | None:
    """(date, category, language of the month name) of a line like '11 February 2020 In News'."""
    if not YEAR.search(line) or len(line) > 160:
        return None
    for separator in CATEGORY_SEPARATORS.finditer(line):
        found = parse_date_text(line[: separator.start()])
        if found is None:
            continue
        rest = fold_lines(line[separator.end() :])
        category = rest.strip(" :-–|")
        # A category is a short label; "11 May 2020 in Idlib, jets killed seven." is prose.
        if category and len(category.split()) <= 6 and not SENTENCE_END.search(rest):
            return found[0], category, found[1]
        return None
    return None


def parse_date_text(text: str) -> tuple[date, str] | None:
    """(date, language) of a date written out: '11 February 2020', 'February 11, 2020', Arabic."""
    text = fold_lines(text)
    names = _date_names()
    for pattern in (DMY, MDY):
        match = pattern.match(text)
        if match is None:
            continue
        if match["weekday"] and _name_key(match["weekday"]) not in names[1]:
            continue
        for part in match["month"].split("/"):
            month = names[0].get(_name_key(part))
            if month is not None:
                try:
                    return date(int(match["year"]), month[0], int(match["day"])), month[1]
                except ValueError:
                    return None  # 30 February: not a date, so not an item header
    return None


def escape_markdown(paragraph: str) -> str:
    """Plain text as one Markdown paragraph that renders as the same text."""
    text = re.sub(r"([\\`*\[\]<~])", r"\\\1", paragraph)
    text = re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", text)
    text = re.sub(r"&(?=#?\w+;)", r"\\&", text)
    if match := re.match(r"(\d{1,9})([.)])", text):
        return f"{match[1]}\\{text[match.end(1) :]}"
    if text[:1] in ("#", ">", "+", "-", "=", "|"):
        return "\\" + text
    return text


def make_title(paragraph: str, limit: int = TITLE_MAX) -> str:
    """A headline from a paragraph: its first sentence, cut at a word boundary with '…'."""
    title = first_sentences(paragraph, 1)
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1]
    return _cut(title, limit)


def make_summary(paragraph: str, limit: int = SUMMARY_MAX) -> str:
    """A lede from a paragraph: its first sentence, and the second when both stay short."""
    first = first_sentences(paragraph, 1)
    two = first_sentences(paragraph, 2)
    return _cut(two if len(first) < 120 and len(two) <= limit else first, limit)


def first_sentences(paragraph: str, count: int) -> str:
    """The first count sentences of a paragraph (abbreviations like 'U.S.' do not end one)."""
    result: list[str] = []
    pending = ""
    for piece in sentences(paragraph):
        pending = f"{pending} {piece.strip()}".strip()
        if ABBREVIATION.search(pending) or len(pending) < 15:
            continue
        result.append(pending)
        pending = ""
        if len(result) == count:
            break
    if pending and len(result) < count:
        result.append(pending)
    return " ".join(result)


def _build_item(
    lines: list[str], when: date, category: str, month_language: str, is_last: bool
) -> ImportedItem | None:
    lines = ["" if _is_nav(line) else line for line in lines]
    header_source, lines = _press_header(lines)
    paragraphs: list[str] = []
    attribution = headline = ""
    ended = False
    for block in _blocks(lines):
        if len(block) == 1 and END_MARK.match(block[0]):
            ended = True
            continue
        for paragraph in _paragraphs(block):
            match = ATTRIBUTION.search(paragraph) or SOURCE_LINE.match(paragraph)
            if match:
                # The item's own attribution beats the press-release header's organisation.
                attribution = attribution or fold_lines(match[1])
                paragraph = paragraph[: match.start()].strip()
                ended = True
            if paragraph:
                paragraphs.append(paragraph)
    # A short line without sentence punctuation after the item's end mark, or at the very end
    # of the page, is page chrome ("Home > News", a date filter), not the item's text.
    trailing_ok = is_last or ended
    while trailing_ok and paragraphs and _looks_like_nav(paragraphs[-1]):
        paragraphs.pop()
    if len(paragraphs) > 1 and _looks_like_headline(paragraphs[0]):
        headline = paragraphs.pop(0)
        if headline.casefold() == category.casefold():
            headline = ""  # the category repeated as a label, not a headline
    if not paragraphs:
        return None
    title = fold_lines(headline) or make_title(paragraphs[0])
    language = _language(" ".join(paragraphs), month_language)
    return ImportedItem(
        id=make_id(title, datetime.combine(when, time())),
        title=title,
        date=when,
        category=category,
        source=attribution or header_source,
        summary=make_summary(paragraphs[0]),
        language=language,
        paragraphs=tuple(paragraphs),
    )


def _press_header(lines: list[str]) -> tuple[str, list[str]]:
    """Take a 'Press release / organisation / department / date' block off the top."""
    first = next((n for n, line in enumerate(lines) if line), None)
    if first is None or not PRESS_HEADER.match(lines[first]):
        return "", lines
    names: list[str] = []
    end = first + 1
    for n in range(first + 1, min(len(lines), first + 12)):
        line = lines[n]
        if not line:
            continue
        if parse_date_text(line) is not None:
            end = n + 1
            break
        if len(line.split()) > 10 or SENTENCE_END.search(line) or len(names) >= 4:
            break
        names.append(line)
        end = n + 1
    comma = "، " if ARABIC_LETTER.search(" ".join(names)) else ", "
    return comma.join(names), lines[:first] + lines[end:]


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _paragraphs(block: list[str]) -> list[str]:
    """One paragraph per line when every line ends a sentence, else hard-wrapped lines joined."""
    if all(SENTENCE_END.search(line) or ATTRIBUTION.search(line) for line in block[:-1]):
        return [fold_lines(line) for line in block]
    return [fold_lines(" ".join(block))]


def _is_nav(line: str) -> bool:
    short = bool(line) and len(line.split()) <= NAV_MAX_WORDS and not SENTENCE_END.search(line)
    return short and bool(NAV_LINE.match(line))


def _looks_like_nav(paragraph: str) -> bool:
    if _is_nav(paragraph):
        return True
    has_contact = "@" in paragraph or "://" in paragraph
    return len(paragraph.split()) <= 10 and not SENTENCE_END.search(paragraph) and not has_contact


def _looks_like_headline(paragraph: str) -> bool:
    ends_plain = not SENTENCE_END.search(paragraph) or paragraph.endswith(("?", "!", "؟"))
    return ends_plain and len(paragraph) <= 150 and not paragraph.endswith(":")


def _language(text: str, month_language: str) -> str:
    if len(ARABIC_LETTER.findall(text)) > len(LATIN_LETTER.findall(text)):
        return "ar"
    return month_language if month_language in ("fr", "de", "es") else "en"


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    words = text[: limit - 1].split(" ")
    if not text[limit - 1].isspace() and len(words) > 1:
        words.pop()  # the last word was cut in half
    # A title should not end in "of…" or "and…": drop dangling little words.
    while len(words) > 3 and words[-1].casefold() in DANGLING_WORDS:
        words.pop()
    return " ".join(words).rstrip(" ,;:–—-\"'“‘(") + "…"


def _clean_line(line: str) -> str:
    # Directional marks and tatweel are invisible in the page but break matching and titles.
    return line.translate(INVISIBLE).replace("\u00a0", " ").replace("\u202f", " ")


def _name_key(name: str) -> str:
    """Month/weekday names compared without case, accents, hamza forms, dots or tatweel."""
    decomposed = unicodedata.normalize("NFKD", fold_lines(name).casefold().strip(" ."))
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.replace("ى", "ي").replace("ة", "ه").translate(INVISIBLE)


@lru_cache(maxsize=1)
def _date_names() -> tuple[dict[str, tuple[int, str]], set[str]]:
    """({month name: (number, language)}, {weekday names}) for every DATE_LOCALES locale."""
    months: dict[str, tuple[int, str]] = {"sept": (9, "en")}
    weekdays: set[str] = set()
    for code in DATE_LOCALES:
        locale = Locale.parse(code)
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in locale.months[context][width].items():
                    months.setdefault(_name_key(name), (number, locale.language))
                for name in locale.days[context][width].values():
                    weekdays.add(_name_key(name))
    return months, weekdays


def _create_exclusive(target: Path, content: bytes) -> bool:
    """Write a new file; False (and nothing written) if the target already exists."""
    try:
        # Mode "x" creates or fails in one step: a file created meanwhile is never overwritten.
        with target.open("xb") as stream:
            stream.write(content)
    except FileExistsError:
        return False
    return True


def _page_error(source_name: str, problem: str, fix: str) -> ReleaseErrors:
    return ReleaseErrors([ReleaseError(source_name, "page", problem, fix)])
