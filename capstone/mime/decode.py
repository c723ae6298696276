"""Bytes and header values of real-world mail as text, never raising.

* Charsets: a declared charset is mapped through known aliases (``iso-8859-8-i``, ``windows-874``,
  ``x-mac-roman``, ``ks_c_5601-1987`` ...); labels that name no charset at all (``unknown-8bit``,
  ``x-unknown-charset``, ``default`` ...) and charsets Python has no codec for are read as UTF-8.
  Bytes the chosen codec cannot decode are decided **one byte at a time** (as Windows-1252, else
  Latin-1), so one bad byte never turns a whole header or body into mojibake.
* Headers: RFC 2047 encoded words decoded word by word (a word in an unknown charset or with broken
  base64 stays as it is); undeclared 8-bit bytes read as UTF-8 with the per-byte fallback.
* Addresses: RFC 5322 groups (``To: unlisted-recipients:;``) understood, comments dropped, and the
  header split without recursion, so a 135 kB ``To:`` gives all its addresses.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass
from email.utils import parseaddr

UTF8_BOM = b"\xef\xbb\xbf"
_PER_BYTE = "capstone-per-byte"

# charset labels real mail uses that Python does not know (or knows under another name)
_ALIASES: dict[str, str | None] = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "x-mac-ce": "mac_latin2",
    "x-mac-cyrillic": "mac_cyrillic",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "x-sjis": "shift_jis",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "iso-8859-1": "cp1252",  # as every mail client reads it (WHATWG)
    "latin1": "cp1252",
    "us-ascii": "utf-8",  # 8-bit bytes under a us-ascii label are nearly always UTF-8 or cp1252
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    # labels that name no charset at all
    "unknown-8bit": None,
    "x-unknown-charset": None,
    "x-unknown": None,
    "unknown": None,
    "default": None,
    "x-user-defined": None,
    "charset": None,
    "8bit": None,
    "binary": None,
    "none": None,
}


def _per_byte(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: each undecodable byte read as Windows-1252 (Latin-1 where cp1252 has
    no character), so the rest of the text keeps its own charset."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    chunk = error.object[error.start : error.end]
    out = []
    for byte in bytes(chunk):
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out), error.end


codecs.register_error(_PER_BYTE, _per_byte)


@dataclass(frozen=True)
class Decoded:
    text: str
    exact: bool  # every byte decoded in the chosen codec
    codec: str  # the Python codec used
    declared: str  # the charset the mail declared ("" for none)
    known: bool  # the declared charset (or its alias) is one Python has


def codec_for(charset: str | None) -> tuple[str | None, bool]:
    """(Python codec, known) for a declared charset label; (None, True) for no label."""
    if not charset:
        return None, True
    label = str(charset).strip().strip("\"'").lower()
    if "*" in label:  # RFC 2231 language: utf-8*nl
        label = label.split("*", 1)[0]
    if not label:
        return None, True
    if label in _ALIASES:
        alias = _ALIASES[label]
        return alias, alias is not None
    try:
        return codecs.lookup(label).name, True
    except LookupError:
        return None, False


def decode_bytes(data: bytes, charset: str | None = None) -> Decoded:
    """``data`` as text in its declared charset (through the aliases), else UTF-8; bytes that do
    not decode are decided one at a time. Never raises."""
    codec, known = codec_for(charset)
    name = codec or "utf-8"
    try:
        return Decoded(data.decode(name), True, name, str(charset or ""), known)
    except UnicodeDecodeError:
        pass
    except LookupError:  # pragma: no cover - codec_for only names codecs that exist
        name = "utf-8"
    try:
        text = data.decode(name, _PER_BYTE)
    except Exception:  # a stateful codec that cannot resume (utf-7, iso-2022-*): per byte from the start
        name = "utf-8"
        text = data.decode(name, _PER_BYTE)
    return Decoded(text, False, name, str(charset or ""), known)


# -- header values ----------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)[ \t\r\n]+(?==\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)")


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def raw_header_text(value: object) -> str:
    """A header value as handed over by the parser, its undeclared 8-bit bytes (kept by the parser
    as surrogate escapes) read as UTF-8, else one byte at a time."""
    if value is None:
        return ""
    text = str(value)
    if _has_surrogates(text):
        text = decode_bytes(text.encode("utf-8", "surrogateescape")).text
    return text


def _word(match: re.Match[str]) -> str:
    charset, encoding, payload = match.group(1), match.group(2).lower(), match.group(3)
    try:
        if encoding == "b":
            raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)
        else:
            raw = binascii.a2b_qp(payload.encode("ascii", "surrogateescape"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return match.group(0)
    return decode_bytes(raw, charset).text


def decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded one by one (white space between two words dropped)."""
    if "=?" not in text:
        return text
    return _ENCODED_WORD.sub(_word, _BETWEEN_WORDS.sub(r"\1", text))


def header_text(value: object) -> str:
    """A header value as one line of text: 8-bit bytes and RFC 2047 words decoded, folds joined."""
    text = decode_words(raw_header_text(value))
    return _SPACES.sub(" ", text).strip()


# -- addresses ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    name: str
    address: str  # lower case; "" when the entry names no address

    def __str__(self) -> str:
        name = self.name.strip().strip('"').strip()
        if name and self.address and name.lower() != self.address:
            return f"{name} <{self.address}>"
        return self.address or name


def _split_addresses(value: str) -> list[str]:
    """Split an address header at its top-level commas (and group markers), linear and without
    recursion: quoted strings, comments and angle brackets are respected; a group's display name
    (``name:``) and its end (``;``) are dropped."""
    pieces: list[str] = []
    buf: list[str] = []
    quoted = escaped = angle = False
    depth = 0
    for ch in value:
        if escaped:
            buf.append(ch)
            escaped = False
            continue
        if quoted or depth:
            if ch == "\\":
                escaped = True
            elif quoted and ch == '"':
                quoted = False
            elif depth and ch == "(":
                depth += 1
            elif depth and ch == ")":
                depth -= 1
            buf.append(ch)
            continue
        if ch == '"':
            quoted = True
        elif ch == "(":
            depth = 1
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif not angle and ch in ",;":
            pieces.append("".join(buf))
            buf = []
            continue
        elif not angle and ch == ":":
            buf = []  # a group's display name
            continue
        buf.append(ch)
    pieces.append("".join(buf))
    return [p.strip() for p in pieces if p.strip()]


_MAX_PIECE = 2000  # one address longer than this is read by pattern, not by the recursive parser
_BARE_ADDRESS = re.compile(r"[^\s<>(),;:\"]+@[^\s<>(),;:\"]+")


def parse_addresses(values: object) -> list[Address]:
    """Every address in one or more address header values (groups understood, names decoded)."""
    if values is None:
        return []
    items = values if isinstance(values, list | tuple) else [values]
    result: list[Address] = []
    for value in items:
        for piece in _split_addresses(raw_header_text(value)):
            name, address = "", ""
            if len(piece) <= _MAX_PIECE:
                try:
                    name, address = parseaddr(piece)
                except (RecursionError, ValueError, IndexError):  # e.g. thousands of nested comments
                    name, address = "", ""
            if not address or "@" not in address:
                found = _BARE_ADDRESS.search(piece)
                if found is None:
                    continue  # a comment, an empty group member
                address = found.group(0)
                if not name:
                    name = piece[: found.start()].strip(" <\"'")
            result.append(Address(header_text(name), address.strip().lower()))
    return result


__all__ = [
    "UTF8_BOM",
    "Address",
    "Decoded",
    "codec_for",
    "decode_bytes",
    "decode_words",
    "header_text",
    "parse_addresses",
    "raw_header_text",
]
