"""Dutch text analysis shared by the index backends, and the parser for what a Woo officer types.

Analysis: Unicode NFKD, combining marks stripped (``café`` -> ``cafe``, ``ideeën`` -> ``ideeen``),
case folded, split into runs of letters and digits, stemmed with the Snowball Dutch stemmer
(PyStemmer), so ``gemeenten`` and ``gemeente`` share a stem.

Query language (like a web search box; PostgreSQL's ``websearch_to_tsquery`` reads it the same way)::

    fietsbrug subsidie          both words (AND)
    "college van B&W"           an exact phrase (the words in this order)
    fietsbrug OR voetbrug       either word; OR binds tighter than AND: ``a b OR c`` = a AND (b OR c)
    -concept                    not this word (or -"a phrase")
    gemeent*                    a word beginning with ``gemeent`` (at least two letters)

Words with inner punctuation (``Woo-verzoek``, ``e-mail``) are read as a phrase of their parts.
Anything else that cannot be read (an unclosed quote, a dangling OR, only excluded words, brackets)
raises :class:`QuerySyntaxError` with a message for the person who typed it.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import Stemmer

MAX_TOKEN_LENGTH = 64  # longer runs are base64, hashes, URLs: not words anyone searches for
MIN_PREFIX_LENGTH = 2
MAX_QUERY_LENGTH = 2000
MAX_QUERY_TERMS = 64

_TOKEN = re.compile(r"[^\W_]+")
_local = threading.local()


class QuerySyntaxError(ValueError):
    """The search text cannot be read; the message says why, in words for the person who typed it."""


# -- analysis ----------------------------------------------------------------------------------------


# The combining-mark blocks of Unicode (diacritics of Latin, Greek, Cyrillic scripts and their
# extensions): what NFKD splits off ``é``, ``ë``, ``ç``, ``ñ``...
_MARKS = re.compile("[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


# Letters NFKD does not decompose, folded as PostgreSQL's unaccent does.
_LETTERS = str.maketrans(
    {
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "œ": "oe",
        "Œ": "OE",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "ı": "i",
    }
)


def fold(text: str) -> str:
    """Case-fold and strip diacritics: ``Café Ideeën`` -> ``cafe ideeen``."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    return _MARKS.sub("", decomposed).casefold()


def tokens(text: str) -> list[str]:
    """Folded word tokens of ``text`` (runs of letters and digits, at most 64 characters)."""
    return [t for t in _TOKEN.findall(fold(text)) if len(t) <= MAX_TOKEN_LENGTH]


def _stemmer() -> Stemmer.Stemmer:
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:  # PyStemmer objects are not thread-safe: one per thread
        stemmer = Stemmer.Stemmer("dutch")
        stemmer.maxCacheSize = 100_000
        _local.stemmer = stemmer
    return stemmer


_CACHE_LIMIT = 500_000  # words whose stem is remembered, per thread


def stem_all(words: list[str]) -> list[str]:
    """Dutch stems of already folded tokens (a per-thread cache skips the stemmer for known words)."""
    if not words:
        return []
    cache: dict[str, str] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    if len(cache) > _CACHE_LIMIT:
        cache.clear()  # before deciding what is unknown, so every word asked for is in the cache below
    unknown = [w for w in set(words) if w not in cache]
    if unknown:
        cache.update(zip(unknown, _stemmer().stemWords(unknown), strict=True))
    return [cache[w] for w in words]


def stem(word: str) -> str:
    result: str = _stemmer().stemWord(word)
    return result


@dataclass(frozen=True)
class Analysed:
    """Index text of one document: folded tokens and their stems, space separated."""

    raw: str
    stems: str


def analyse(*texts: str) -> Analysed:
    words: list[str] = []
    for text in texts:
        if text:
            words.extend(tokens(text))
    return Analysed(" ".join(words), " ".join(stem_all(words)))


def iter_token_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, folded token) for each word of the *original* text, for snippets."""
    for match in _TOKEN.finditer(text):
        word = fold(match.group())
        if len(word) <= MAX_TOKEN_LENGTH:
            yield match.start(), match.end(), word


# -- the query language ------------------------------------------------------------------------------

TermKind = Literal["word", "phrase", "prefix"]


@dataclass(frozen=True)
class Term:
    """One searchable unit. ``words`` are folded tokens; ``stems`` their Dutch stems. A prefix term's
    last word is the prefix (matched against unstemmed words)."""

    kind: TermKind
    words: tuple[str, ...]
    stems: tuple[str, ...]
    text: str  # as typed, for messages


@dataclass(frozen=True)
class ParsedQuery:
    """``all(any(group) for group in groups) and not any(excluded)``."""

    groups: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.groups

    def positive_terms(self) -> list[Term]:
        return [term for group in self.groups for term in group]


@dataclass
class _Lexeme:
    text: str
    quoted: bool = False
    negated: bool = False
    prefix: bool = False
    is_or: bool = False
    position: int = 0
    parts: list[str] = field(default_factory=list)


def _lex(text: str) -> list[_Lexeme]:
    lexemes: list[_Lexeme] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        negated = False
        if ch == "-" and i + 1 < n and not text[i + 1].isspace():
            negated = True
            i += 1
            ch = text[i]
        elif ch == "-":
            raise QuerySyntaxError(
                f"a lone '-' at position {i + 1}: put it directly before a word to exclude it"
            )
        if ch in "()[]{}":
            raise QuerySyntaxError(
                f"brackets are not supported (position {i + 1}); use OR between alternatives, e.g. a OR b"
            )
        if ch in '"“”„':
            end = i + 1
            while end < n and text[end] not in '"“”„':
                end += 1
            if end >= n:
                raise QuerySyntaxError(f'the quote opened at position {i + 1} is not closed: add a closing "')
            body = text[i + 1 : end]
            i = end + 1
            prefix = i < n and text[i] == "*"
            if prefix:
                i += 1
            if i < n and not text[i].isspace():
                raise QuerySyntaxError(f"put a space after the closing quote at position {i}")
            lexemes.append(_Lexeme(body, quoted=True, negated=negated, prefix=prefix, position=start + 1))
            continue
        end = i
        while end < n and not text[end].isspace() and text[end] not in '"“”„':
            end += 1
        word = text[i:end]
        i = end
        if any(c in word for c in "()[]{}"):
            raise QuerySyntaxError(
                f"brackets are not supported (in {word!r}); use OR between alternatives, e.g. a OR b"
            )
        if word == "OR" and not negated:
            lexemes.append(_Lexeme(word, is_or=True, position=start + 1))
            continue
        prefix = word.endswith("*")
        core = word.rstrip("*")
        if "*" in core:
            raise QuerySyntaxError(f"'*' is only allowed at the end of a word (in {word!r})")
        lexemes.append(_Lexeme(core, negated=negated, prefix=prefix, position=start + 1))
    return lexemes


def _term(lexeme: _Lexeme) -> Term | None:
    words = tuple(tokens(lexeme.text))
    if not words:
        if lexeme.prefix:
            raise QuerySyntaxError(f"'*' needs a word before it (at position {lexeme.position})")
        return None  # punctuation only: nothing to search for
    if lexeme.prefix:
        if len(words[-1]) < MIN_PREFIX_LENGTH:
            raise QuerySyntaxError(
                f"a word ending in '*' needs at least {MIN_PREFIX_LENGTH} letters before the '*' "
                f"(at position {lexeme.position})"
            )
        return Term("prefix", words, tuple(stem_all(list(words))), lexeme.text)
    kind: TermKind = "phrase" if len(words) > 1 or lexeme.quoted else "word"
    if len(words) == 1:
        kind = "word"
    return Term(kind, words, tuple(stem_all(list(words))), lexeme.text)


def parse_query(text: str) -> ParsedQuery:
    """Read a search text; raises :class:`QuerySyntaxError` when it cannot be read."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(f"the search text is longer than {MAX_QUERY_LENGTH} characters")
    lexemes = _lex(text)
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    last_was_positive = False
    for index, lexeme in enumerate(lexemes):
        if lexeme.is_or:
            if not last_was_positive or index == len(lexemes) - 1 or pending_or:
                raise QuerySyntaxError(
                    f"OR at position {lexeme.position} needs a word or phrase on both sides"
                )
            pending_or = True
            continue
        term = _term(lexeme)
        if lexeme.negated:
            if pending_or:
                raise QuerySyntaxError(
                    f"an excluded word cannot be an alternative of OR (position {lexeme.position})"
                )
            if term is not None:
                excluded.append(term)
            last_was_positive = False
            continue
        if term is None:
            if pending_or:
                raise QuerySyntaxError(f"OR before position {lexeme.position} needs a word after it")
            last_was_positive = False
            continue
        if pending_or:
            groups[-1].append(term)
            pending_or = False
        else:
            groups.append([term])
        last_was_positive = True
    if pending_or:
        raise QuerySyntaxError("OR at the end needs a word or phrase after it")
    if excluded and not groups:
        raise QuerySyntaxError("a search cannot consist of excluded words only: add a word to look for")
    if sum(len(g) for g in groups) + len(excluded) > MAX_QUERY_TERMS:
        raise QuerySyntaxError(f"a search can have at most {MAX_QUERY_TERMS} words and phrases")
    if text.strip() and not groups:
        raise QuerySyntaxError("the search text holds no word to look for")
    return ParsedQuery(tuple(tuple(g) for g in groups), tuple(excluded))
