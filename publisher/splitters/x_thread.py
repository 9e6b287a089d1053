"""X threads: plain text packed into posts of at most 280 weighted characters.

Weights follow twitter-text (the `twitter_text` package): URLs count 23, most CJK and emoji 2.
Its `parse_tweet` costs about 7 µs a character, so it is called only where a cheap count can be
wrong: a word with a possible URL (a dot before a letter) or a multi-code-point emoji (joiners,
variation selectors, skin tones, flags, tags) is measured alone; every other word weighs its
characters, read from the package's own weight ranges. Words joined by whitespace add up
exactly (no URL or emoji spans whitespace); a post that glues a measured word to its neighbour
without a space is measured whole before it is accepted.

Packing keeps sentences whole where it can, then words; a word longer than a post is cut
between characters, never inside a URL, an emoji or a combining sequence.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from twitter_text import parse_tweet
from twitter_text.config import config as twitter_config
from twitter_text.extract_emojis import extract_emojis_with_indices
from twitter_text.extract_urls import extract_urls_with_indices
from twitter_text.regexp.invalid_chars import invalid_chars

from publisher.render import sentences

_OPTIONS = twitter_config["defaults"]
MAX_WEIGHT: int = _OPTIONS["max_weighted_tweet_length"]
URL_WEIGHT: int = _OPTIONS["transformed_url_length"]
EMOJI_WEIGHT: int = _OPTIONS["default_weight"] // _OPTIONS["scale"]
ELLIPSIS = "…"
LINK_JOINER = "\n\n"
SENTENCE_WINDOW = 2048  # characters of a paragraph split into sentences at a time


def _heavy_pattern() -> re.Pattern[str]:
    """Characters outside twitter-text's weight-1 ranges, plus the emoji it finds in them."""
    light = "".join(f"\\U{r['start']:08x}-\\U{r['end']:08x}" for r in _OPTIONS["ranges"])
    # © and ® sit in a light range but twitter-text counts them as emoji (2).
    return re.compile(f"[^{light}]|[\u00a9\u00ae]")


HEAVY = _heavy_pattern()
# What makes the cheap count unsure: a possible domain (every URL has a dot before a letter or
# digit) and the parts of multi-code-point emoji (ZWJ, variation selectors, keycap, skin tones,
# regional indicators, tag characters).
SLACK = re.compile(
    r"\.(?=\w)|[\u200d\ufe0e\ufe0f\u20e3\U0001F1E6-\U0001F1FF\U0001F3FB-\U0001F3FF"
    r"\U000E0020-\U000E007F]"
)
# Scripts written without spaces between words: a post may break between any two characters.
CJK = re.compile(
    r"[\u3000-\u303f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    r"\uff00-\uffef\U00020000-\U0003134f]"
)
# Whitespace where a post may break; no-break spaces stay inside their word.
BREAKABLE_SPACE = re.compile(r"[^\S\u00a0\u2007\u202f]+")
# Never kept: characters X refuses, lone surrogates, and control characters other than newline.
UNWANTED = re.compile(invalid_chars.pattern + r"|[\ud800-\udfff]|[\x00-\x08\x0b-\x1f\x7f]")
# Never cut before these (they extend the character before) or after a zero-width joiner.
EXTENDERS = re.compile(r"[\u200d\ufe00-\ufe0f\u20e3\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F]")


def clean_text(text: str) -> str:
    """Text as X counts it: NFC, `\\n` line ends, without characters X would refuse."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return unicodedata.normalize("NFC", UNWANTED.sub("", text))


def exact_weight(text: str) -> int:
    """The weighted length of a whole post, as X counts it (twitter-text's parse_tweet)."""
    return int(parse_tweet(text).weightedLength)


@lru_cache(maxsize=4096)  # the release's link is measured in its thread and in its counter
def _measure(text: str, at_start: bool = False) -> tuple[int, bool]:
    """Weight of one word (no breakable space inside) and whether parse_tweet measured it.

    A word is measured after a space, where it stands in a post: twitter-text finds some URLs
    at the very start of a text that it does not find after a space ("مd.et").
    """
    heavy = len(HEAVY.findall(text))
    if SLACK.search(text):
        if heavy:  # an emoji may be there: twitter-text's whole count
            if at_start:
                return exact_weight(text), True
            return exact_weight(" " + text) - 1, True
        # Only URLs can change the count of weight-1 characters: find them as parse_tweet does,
        # without its search for emoji (most of its time), and count each as URL_WEIGHT.
        found = extract_urls_with_indices(text if at_start else " " + text)
        covered = sum(end - start for start, end in (url["indices"] for url in found))
        return len(text) - covered + URL_WEIGHT * len(found), True
    return len(text) + heavy, False


@lru_cache(maxsize=512)
def weighted_length(text: str, at_start: bool = True) -> int:
    """The weighted length of a text (exact; cheap for text without URLs or compound emoji).

    `at_start=False` counts it as it weighs after a space inside a post.
    """
    total = 0
    pos = 0
    for gap in BREAKABLE_SPACE.finditer(text):
        total += _measure(text[pos : gap.start()], at_start and pos == 0)[0]
        total += _measure(gap.group())[0]
        pos = gap.end()
    return total + _measure(text[pos:], at_start and pos == 0)[0]


def _joiner(space: str) -> str:
    """How a run of whitespace between two pieces is written in a post."""
    if not space:
        return ""
    return "\n" if "\n" in space else " "


@dataclass(slots=True)
class _Piece:
    text: str
    weight: int
    measured: bool  # weighed alone by parse_tweet: gluing it to a neighbour needs a recount
    joiner: str  # what separates it from the piece before, inside a post


@dataclass(slots=True)
class _Sentence:
    pieces: list[_Piece]
    joiner: str  # what separates it from the sentence before, inside a post
    breaks: bool = False  # starts a new post (the body after the title and lede)
    weight: int = field(init=False)

    def __post_init__(self) -> None:
        self.reweigh()

    def reweigh(self) -> None:
        joiners = sum(len(p.joiner) for p in self.pieces[1:])
        self.weight = sum(p.weight for p in self.pieces) + joiners


def _units(word: str) -> tuple[list[bool], list[int]]:
    """Where a word may be cut (index i: between word[i-1] and word[i]) and its running weight.

    URL and emoji spans come from twitter-text's own extractors and are never cut; neither is a
    combining sequence. The running weight counts a URL 23 and an emoji 2, as parse_tweet does;
    a cut made from it is still checked with parse_tweet.
    """
    n = len(word)
    allowed = [True] * (n + 1)
    allowed[0] = allowed[n] = False
    span_weight: dict[int, tuple[int, int]] = {}
    if SLACK.search(word):
        if "." in word:
            for url in extract_urls_with_indices(word):
                span_weight.setdefault(url["indices"][0], (url["indices"][1], URL_WEIGHT))
        if not word.isascii():
            for emoji in extract_emojis_with_indices(word):
                span_weight.setdefault(emoji["indices"][0], (emoji["indices"][1], EMOJI_WEIGHT))
    running = [0] * (n + 1)
    i = 0
    while i < n:
        end, weight = span_weight.get(i, (i + 1, 2 if HEAVY.match(word[i]) else 1))
        for inside in range(i + 1, end):
            allowed[inside] = False
            running[inside] = running[i]
        running[end] = running[i] + weight
        i = end
    for i in range(1, n):
        if allowed[i] and (
            word[i - 1] == "\u200d"
            or EXTENDERS.match(word[i])
            or unicodedata.category(word[i]).startswith("M")
        ):
            allowed[i] = False
    return allowed, running


def _split_glued(word: str) -> list[str]:
    """A word in a script without spaces, as pieces a post may break between (CJK characters)."""
    if not CJK.search(word):
        return [word]
    allowed, _ = _units(word)
    pieces: list[str] = []
    start = 0
    for i in range(1, len(word)):
        if allowed[i] and (CJK.match(word[i - 1]) or CJK.match(word[i])):
            pieces.append(word[start:i])
            start = i
    pieces.append(word[start:])
    return pieces


def _hard_cut(word: str, budget: int) -> int:
    """Where to cut a word heavier than `budget`: the longest head that fits (at least 1 char)."""
    allowed, running = _units(word)
    candidates = [i for i in range(1, len(word)) if allowed[i]]
    if not candidates:
        # One unbreakable cluster heavier than a post (hundreds of combining marks, say): cut it
        # anyway, between code points.
        candidates = list(range(1, len(word)))
    limit = budget
    while True:
        fitting = bisect_right([running[i] for i in candidates], limit)
        cut = candidates[max(fitting - 1, 0)]
        weight = _measure(word[:cut])[0]
        if weight <= budget or cut == candidates[0]:
            return cut
        limit -= weight - budget


def _sentence_starts(text: str) -> list[int]:
    """Where each sentence of `text` starts (publisher.render.sentences finds them)."""
    starts: list[int] = []
    pos = 0
    for part in sentences(text):
        found = text.find(part, pos)
        if found < 0:  # cannot happen: the splitter returns substrings in order
            return [0]
        starts.append(found)
        pos = found + len(part)
    return starts or [0]


def _sentence_spans(paragraph: str) -> Iterator[tuple[str, str]]:
    """(sentence, whitespace before it) for each sentence of a paragraph, losing no character.

    A long paragraph is read a window at a time, so a thread of five posts never splits a
    whole 5,000-word body into sentences. The last sentence of a window may run past it, so
    the next window starts there.
    """
    pos, before, window = 0, "", SENTENCE_WINDOW
    while pos < len(paragraph):
        end = min(len(paragraph), pos + window)
        chunk = paragraph[pos:end]
        starts = _sentence_starts(chunk)
        if end < len(paragraph):
            if len(starts) < 2:
                window *= 2  # one sentence longer than the window: read further
                continue
            complete, pos = starts[:-1], pos + starts[-1]
        else:
            complete, pos = starts, end
        for index, start in enumerate(complete):
            stop = starts[index + 1] if index + 1 < len(starts) else len(chunk)
            piece = chunk[start:stop]
            text = piece.rstrip()
            if text:
                yield text, before
            before = piece[len(text) :]
        window = SENTENCE_WINDOW


def _sentence_of(text: str, joiner: str) -> _Sentence:
    pieces: list[_Piece] = []
    tokens = BREAKABLE_SPACE.split(text)
    spaces = [m.group() for m in BREAKABLE_SPACE.finditer(text)]
    for index, word in enumerate(tokens):
        if not word:
            continue
        space = _joiner(spaces[index - 1]) if index else ""
        for part_index, part in enumerate(_split_glued(word)):
            weight, measured = _measure(part)
            pieces.append(_Piece(part, weight, measured, space if part_index == 0 else ""))
    return _Sentence(pieces, joiner)


def _sentences(blocks: list[list[str]], breaks: bool) -> Iterator[_Sentence]:
    """The sentences of blocks of paragraphs; each block after the first starts a post."""
    first = True
    for block_index, block in enumerate(blocks):
        block_start = True
        for paragraph in block:
            paragraph_start = True
            for raw, before in _sentence_spans(paragraph):
                text = clean_text(raw)
                joiner = "\n\n" if paragraph_start else _joiner(before)
                sentence = _sentence_of(text, "" if first else joiner)
                if not sentence.pieces:
                    continue
                sentence.breaks = breaks and block_start and block_index > 0
                first = block_start = paragraph_start = False
                yield sentence


class _Stream:
    """Sentences read on demand: a long body is only read as far as the thread reaches."""

    def __init__(self, source: Iterator[_Sentence]) -> None:
        self._source = source
        self.sentences: list[_Sentence] = []

    def has(self, index: int) -> bool:
        while len(self.sentences) <= index:
            nxt = next(self._source, None)
            if nxt is None:
                return False
            self.sentences.append(nxt)
        return True


Cursor = tuple[int, int]  # (sentence index, piece index within it)


@dataclass
class _Post:
    lead: str  # what stands before the text in the post: the numbering, or nothing
    parts: list[str] = field(default_factory=list)
    weight: int = 0
    recount: bool = False  # a measured piece is glued to a neighbour: count the whole post
    last: _Piece | None = None

    def add(self, piece: _Piece, joiner: str) -> None:
        if not self.parts:
            joiner = ""
            # Measured after a space; at the very start of a post it may weigh otherwise.
            self.recount = self.recount or (piece.measured and not self.lead)
        elif not joiner and (piece.measured or (self.last is not None and self.last.measured)):
            self.recount = True
        self.parts.append(joiner + piece.text)
        self.weight += len(joiner) + piece.weight
        self.last = piece

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _fill(
    stream: _Stream, start: Cursor, budget: int, words: bool, lead: str
) -> tuple[_Post, Cursor]:
    """Fill one post from `start`: whole sentences, then words; `words` fills to the last word."""
    post = _Post(lead)
    s, p = start
    while stream.has(s):
        sentence = stream.sentences[s]
        if p == 0:
            if sentence.breaks and post.parts:
                break
            cost = (len(sentence.joiner) if post.parts else 0) + sentence.weight
            if post.weight + cost <= budget:
                for index, piece in enumerate(sentence.pieces):
                    post.add(piece, sentence.joiner if index == 0 else piece.joiner)
                s += 1
                continue
            if post.parts and sentence.weight <= budget and not words:
                break  # the sentence fits a post of its own: start one
        piece = sentence.pieces[p]
        joiner = sentence.joiner if p == 0 else piece.joiner
        cost = (len(joiner) if post.parts else 0) + piece.weight
        if post.weight + cost <= budget:
            post.add(piece, joiner)
        elif not post.parts and len(piece.text) > 1:
            # A word heavier than a whole post: keep the head here, the tail starts the next.
            cut = _hard_cut(piece.text, budget)
            head, tail = piece.text[:cut], piece.text[cut:]
            head_weight, head_measured = _measure(head)
            tail_weight, tail_measured = _measure(tail)
            sentence.pieces[p : p + 1] = [
                _Piece(head, head_weight, head_measured, piece.joiner),
                _Piece(tail, tail_weight, tail_measured, ""),
            ]
            sentence.reweigh()
            post.add(sentence.pieces[p], joiner)
            p += 1
            break
        else:
            break
        p += 1
        if p == len(sentence.pieces):
            s, p = s + 1, 0
    return post, (s, p)


def _fill_checked(
    stream: _Stream, start: Cursor, budget: int, words: bool, lead: str
) -> tuple[_Post, Cursor]:
    """`_fill`, then count the post whole when the cheap sum cannot be trusted."""
    while True:
        post, end = _fill(stream, start, budget, words, lead)
        if not post.recount:
            return post, end
        post.weight = exact_weight(lead + post.text) - len(lead)
        if post.weight <= budget or budget <= 1:
            return post, end
        budget -= post.weight - budget


def pack_thread(
    first: list[str],
    body: list[str],
    link: str,
    max_posts: int,
    limit: int = MAX_WEIGHT,
) -> tuple[list[str], bool]:
    """Posts for a release: the `first` paragraphs, the `body` paragraphs, then `link`.

    Returns (posts, cut). One post, unnumbered, if everything fits in one; else a thread whose
    body starts on a new post, numbered "1/n ", at most `max_posts` long. The link closes the
    last post; when the text does not fit, the last post ends with "…" and the link. Raises
    ValueError when the link leaves no room for text.
    """
    link = clean_text(link).strip()
    link_weight = weighted_length(link, at_start=False)
    reserve = len(f"{max_posts}/{max_posts} ") if max_posts > 1 else 0
    room = limit - reserve - _cut_cost(link_weight)
    if room < 1:
        raise ValueError(f"the link to the release page weighs {link_weight}/{limit}")
    single, single_cut = _pack([first + body], link, link_weight, 1, limit, "")
    if not single_cut or max_posts == 1:
        return single, single_cut
    # Count as if every post had the widest numbering: it is ASCII, so it weighs its length.
    lead = "0" * (reserve - 1) + " "
    posts, cut = _pack([first, body], link, link_weight, max_posts, limit - reserve, lead)
    if len(posts) == 1:  # cannot happen: what did not fit one post cannot fit a smaller one
        return single, single_cut
    return [f"{n}/{len(posts)} {text}" for n, text in enumerate(posts, 1)], cut


def _cut_cost(link_weight: int) -> int:
    """What the end of a cut post takes: a space, "…", a blank line and the link."""
    return 1 + weighted_length(ELLIPSIS) + len(LINK_JOINER) + link_weight


def _pack(
    blocks: list[list[str]],
    link: str,
    link_weight: int,
    max_posts: int,
    budget: int,
    lead: str,
) -> tuple[list[str], bool]:
    stream = _Stream(_sentences(blocks, breaks=bool(lead)))
    link_cost = len(LINK_JOINER) + link_weight
    posts: list[str] = []
    cursor: Cursor = (0, 0)
    for index in range(max_posts):
        post, end = _fill_checked(stream, cursor, budget, False, lead)
        done = not stream.has(end[0])
        if done and post.weight + (link_cost if post.parts else link_weight) <= budget:
            posts.append(_with_link(post.text, link))
            return posts, False
        if index < max_posts - 1:
            if done:
                # Everything fits but the link: leave room for it and move the rest on.
                post, end = _fill_checked(stream, cursor, budget - link_cost, False, lead)
            posts.append(post.text)
            cursor = end
            continue
        # The last post allowed: as many words as fit, then "…" and the link.
        post, end = _fill_checked(stream, cursor, budget - _cut_cost(link_weight), True, lead)
        glued = post.last is not None and not post.last.measured
        # A measured last word may be a URL, which "…" glued to it could lengthen.
        text = post.text + (ELLIPSIS if glued else " " + ELLIPSIS) if post.parts else ELLIPSIS
        posts.append(_with_link(text, link))
        return posts, True
    return posts, False


def _with_link(text: str, link: str) -> str:
    return f"{text}{LINK_JOINER}{link}" if text else link
