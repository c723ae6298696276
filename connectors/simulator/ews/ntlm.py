"""NTLM over HTTP, the server's half, as IIS does it for Exchange Web Services ([MS-NLMP]).

The three legs run on one TCP connection: a request without credentials gets 401 with
``WWW-Authenticate: NTLM``; the client's NEGOTIATE_MESSAGE (type 1) gets 401 with a
CHALLENGE_MESSAGE (type 2, a fresh server challenge and the target info); the client's
AUTHENTICATE_MESSAGE (type 3) is verified by recomputing its NTLMv2 proof from the stored
password (``NTOWFv2``, ``NTProofStr``, [MS-NLMP] 3.3.2). The connection then stays authenticated
for later requests without an ``Authorization`` header (IIS's default), which is what
``requests_ntlm`` relies on. Only NTLMv2 is accepted (LM and NTLMv1 are refused, as a hardened
Exchange server does). Message integrity (MIC) and session keys are not checked: nothing here signs
or seals.

Python's hashlib has no MD4 under OpenSSL 3, so MD4 (RFC 1320) is implemented here; it is only used
to derive the NT hash of a password.
"""

from __future__ import annotations

import hmac
import os
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NEGOTIATE_SIGN = 0x00000010
NEGOTIATE_SEAL = 0x00000020
NEGOTIATE_NTLM = 0x00000200
NEGOTIATE_ALWAYS_SIGN = 0x00008000
TARGET_TYPE_DOMAIN = 0x00010000
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_TARGET_INFO = 0x00800000
NEGOTIATE_VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000
_OFFERED = (
    NEGOTIATE_UNICODE
    | REQUEST_TARGET
    | NEGOTIATE_SIGN
    | NEGOTIATE_SEAL
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_KEY_EXCH
    | NEGOTIATE_56
)
_WINDOWS_EPOCH = 11644473600  # seconds from 1601-01-01 to 1970-01-01


# -- MD4 (RFC 1320) ---------------------------------------------------------------------------------


def _rotl(value: int, shift: int) -> int:
    value &= 0xFFFFFFFF
    return ((value << shift) | (value >> (32 - shift))) & 0xFFFFFFFF


def md4(data: bytes) -> bytes:
    length = len(data) * 8
    data += b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", length)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for start in range(0, len(data), 64):
        x = struct.unpack("<16I", data[start : start + 64])
        aa, bb, cc, dd = a, b, c, d
        for i in (0, 4, 8, 12):  # round 1: F(x, y, z) = xy | ~xz
            a = _rotl(a + ((b & c) | (~b & d)) + x[i], 3)
            d = _rotl(d + ((a & b) | (~a & c)) + x[i + 1], 7)
            c = _rotl(c + ((d & a) | (~d & b)) + x[i + 2], 11)
            b = _rotl(b + ((c & d) | (~c & a)) + x[i + 3], 19)
        for i in (0, 1, 2, 3):  # round 2: G(x, y, z) = xy | xz | yz
            a = _rotl(a + ((b & c) | (b & d) | (c & d)) + x[i] + 0x5A827999, 3)
            d = _rotl(d + ((a & b) | (a & c) | (b & c)) + x[i + 4] + 0x5A827999, 5)
            c = _rotl(c + ((d & a) | (d & b) | (a & b)) + x[i + 8] + 0x5A827999, 9)
            b = _rotl(b + ((c & d) | (c & a) | (d & a)) + x[i + 12] + 0x5A827999, 13)
        for i in (0, 2, 1, 3):  # round 3: H(x, y, z) = x ^ y ^ z
            a = _rotl(a + (b ^ c ^ d) + x[i] + 0x6ED9EBA1, 3)
            d = _rotl(d + (a ^ b ^ c) + x[i + 8] + 0x6ED9EBA1, 9)
            c = _rotl(c + (d ^ a ^ b) + x[i + 4] + 0x6ED9EBA1, 11)
            b = _rotl(b + (c ^ d ^ a) + x[i + 12] + 0x6ED9EBA1, 15)
        a, b, c, d = (
            (a + aa) & 0xFFFFFFFF,
            (b + bb) & 0xFFFFFFFF,
            (c + cc) & 0xFFFFFFFF,
            (d + dd) & 0xFFFFFFFF,
        )
    return struct.pack("<4I", a, b, c, d)


def ntowfv2(password: str, user: str, domain: str) -> bytes:
    nt_hash = md4(password.encode("utf-16-le"))
    return hmac.digest(nt_hash, (user.upper() + domain).encode("utf-16-le"), "md5")


# -- messages ---------------------------------------------------------------------------------------


class NtlmError(ValueError):
    """A malformed or unacceptable NTLM message."""


@dataclass(frozen=True)
class Authenticate:
    user: str
    domain: str
    workstation: str
    nt_response: bytes
    flags: int


def message_type(token: bytes) -> int:
    if len(token) < 12 or token[:8] != SIGNATURE:
        raise NtlmError("not an NTLMSSP message")
    kind: int = struct.unpack_from("<I", token, 8)[0]
    return kind


def _field(token: bytes, offset: int) -> bytes:
    length, _, start = struct.unpack_from("<HHI", token, offset)
    if start + length > len(token):
        raise NtlmError("field outside the message")
    return token[start : start + length]


def negotiate_flags(token: bytes) -> int:
    if message_type(token) != 1 or len(token) < 16:
        raise NtlmError("not a NEGOTIATE_MESSAGE")
    flags: int = struct.unpack_from("<I", token, 12)[0]
    return flags


def _av_pairs(domain: str, computer: str, dns_domain: str, timestamp: int) -> bytes:
    out = b""
    for av_id, value in (
        (2, domain.encode("utf-16-le")),  # MsvAvNbDomainName
        (1, computer.encode("utf-16-le")),  # MsvAvNbComputerName
        (4, dns_domain.encode("utf-16-le")),  # MsvAvDnsDomainName
        (3, f"{computer.lower()}.{dns_domain}".encode("utf-16-le")),  # MsvAvDnsComputerName
        (7, struct.pack("<Q", timestamp)),  # MsvAvTimestamp
    ):
        out += struct.pack("<HH", av_id, len(value)) + value
    return out + struct.pack("<HH", 0, 0)  # MsvAvEOL


def challenge_message(
    client_flags: int, challenge: bytes, *, domain: str, computer: str, dns_domain: str
) -> bytes:
    flags = (client_flags & _OFFERED) | NEGOTIATE_NTLM | NEGOTIATE_TARGET_INFO | TARGET_TYPE_DOMAIN
    if not client_flags & NEGOTIATE_UNICODE:
        raise NtlmError("only Unicode NTLM clients are accepted")
    target = domain.encode("utf-16-le")
    timestamp = int((time.time() + _WINDOWS_EPOCH) * 10_000_000)
    info = _av_pairs(domain, computer, dns_domain, timestamp)
    header_size = 56
    version = struct.pack("<BBHxxxB", 10, 0, 17763, 15)  # Windows Server 2019, NTLM revision 15
    return (
        SIGNATURE
        + struct.pack("<I", 2)
        + struct.pack("<HHI", len(target), len(target), header_size)
        + struct.pack("<I", flags)
        + challenge
        + b"\x00" * 8
        + struct.pack("<HHI", len(info), len(info), header_size + len(target))
        + version
        + target
        + info
    )


def parse_authenticate(token: bytes) -> Authenticate:
    if message_type(token) != 3 or len(token) < 64:
        raise NtlmError("not an AUTHENTICATE_MESSAGE")
    flags: int = struct.unpack_from("<I", token, 60)[0]
    encoding = "utf-16-le" if flags & NEGOTIATE_UNICODE else "cp437"
    try:
        return Authenticate(
            user=_field(token, 36).decode(encoding),
            domain=_field(token, 28).decode(encoding),
            workstation=_field(token, 44).decode(encoding),
            nt_response=_field(token, 20),
            flags=flags,
        )
    except UnicodeDecodeError as exc:
        raise NtlmError("undecodable name") from exc


def verify(message: Authenticate, challenge: bytes, password: str) -> bool:
    """Whether the NTLMv2 response proves knowledge of ``password`` for this challenge."""
    if len(message.nt_response) <= 24:  # NTLMv1 (24 bytes) or anonymous: refused
        return False
    proof, blob = message.nt_response[:16], message.nt_response[16:]
    key = ntowfv2(password, message.user, message.domain)
    expected = hmac.digest(key, challenge + blob, "md5")
    return hmac.compare_digest(proof, expected)


# -- per-connection state ---------------------------------------------------------------------------


class NtlmAcceptor:
    """The server's NTLM state per TCP connection (a challenge in flight, or the authenticated
    user). ``lookup`` gives the password of a ``user`` (with ``domain``), or None."""

    def __init__(
        self,
        lookup: Callable[[str, str], str | None],
        *,
        domain: str = "GEMEENTE",
        computer: str = "EXCH01",
        dns_domain: str = "gemeente-demo.nl",
        max_connections: int = 4096,
    ) -> None:
        self._lookup = lookup
        self._domain = domain
        self._computer = computer
        self._dns_domain = dns_domain
        self._max = max_connections
        self._lock = threading.Lock()
        self._challenges: OrderedDict[object, bytes] = OrderedDict()
        self._authenticated: OrderedDict[object, str] = OrderedDict()
        self.handshakes = 0  # completed (verified) AUTHENTICATE_MESSAGEs
        self.refusals = 0

    def authenticated(self, connection: object) -> str | None:
        with self._lock:
            return self._authenticated.get(connection)

    def forget(self, connection: object) -> None:
        with self._lock:
            self._challenges.pop(connection, None)
            self._authenticated.pop(connection, None)

    def step(self, connection: object, token: bytes) -> tuple[bytes | None, str | None]:
        """One leg: (challenge to send back, None) for a type 1, (None, user) for a valid type 3,
        (None, None) for a refusal."""
        kind = message_type(token)
        if kind == 1:
            challenge = os.urandom(8)
            reply = challenge_message(
                negotiate_flags(token),
                challenge,
                domain=self._domain,
                computer=self._computer,
                dns_domain=self._dns_domain,
            )
            with self._lock:
                self._authenticated.pop(connection, None)
                self._challenges[connection] = challenge
                while len(self._challenges) > self._max:
                    self._challenges.popitem(last=False)
            return reply, None
        if kind != 3:
            raise NtlmError(f"unexpected NTLM message type {kind}")
        with self._lock:
            pending = self._challenges.pop(connection, b"")
        if not pending:
            return None, None
        message = parse_authenticate(token)
        password = self._lookup(message.user, message.domain)
        if password is None or not verify(message, pending, password):
            with self._lock:
                self.refusals += 1
            return None, None
        user = message.user.lower()
        with self._lock:
            self.handshakes += 1
            self._authenticated[connection] = user
            while len(self._authenticated) > self._max:
                self._authenticated.popitem(last=False)
        return None, user
