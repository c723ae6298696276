"""RFC 3161 trusted timestamps for audit seals (issue 16), as piler does for its archive.

A configured timestamp authority (``CAPSTONE_TSA_URL``) signs the SHA-256 of each seal document
before the seal is written; the TSA's answer (a DER ``TimeStampResp``) is stored in the vault as a
blob, and the seal record names it. ``audit verify`` checks every token against the certificates of
``CAPSTONE_TSA_CA_FILE``: signature, chain, the TSA certificate's critical ``timeStamping`` key
purpose, and that the token covers exactly that seal's hash. The protocol is done by
``rfc3161-client`` (the library sigstore uses); this module only adds HTTP and configuration, and
puts the reply's certificate set in DER order first: ``rfc3161-client`` parses strictly, while
OpenSSL, Microsoft's and Bouncy Castle's TSAs send the chain in chain order (a SET OF sorted by
nothing, which the signature does not cover). The stored reply is the TSA's bytes, untouched.

Example::

    tsa = TimestampAuthority("http://tsa.example/", timeout=30)
    reply = tsa.stamp(document)                       # bytes of the TimeStampResp
    stamped = verify_reply(reply, sha256_hex(document), load_trust(Path("tsa-ca.pem")))
    stamped.gen_time                                  # when the TSA saw the hash
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from asn1crypto import cms, tsp
from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)
from rfc3161_client.tsp import TimeStampResponse

if TYPE_CHECKING:
    from capstone.settings import Settings

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


class TimestampError(Exception):
    """The TSA did not give a usable token, or a stored token does not verify."""


@dataclass(frozen=True)
class Stamped:
    gen_time: datetime
    serial: int


@dataclass(frozen=True)
class Trust:
    """Certificates a token must chain to: self-signed ones are roots, the others intermediates."""

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()


def load_trust(path: Path) -> Trust:
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TimestampError(f"cannot read the TSA certificates in {path}: {exc}") from exc
    roots = tuple(c for c in certificates if c.issuer == c.subject)
    if not roots:
        raise TimestampError(f"{path} holds no self-signed (root) certificate to trust")
    return Trust(roots, tuple(c for c in certificates if c.issuer != c.subject))


def _decode(reply: bytes) -> TimeStampResponse:
    """The reply parsed by ``rfc3161-client``, its certificate set sorted as DER wants it."""
    try:
        response = tsp.TimeStampResp.load(reply)
        signed = response["time_stamp_token"]["content"] if response["time_stamp_token"].native else None
        if signed is not None and len(signed["certificates"]) > 1:
            ordered = sorted(signed["certificates"], key=lambda c: c.dump())
            signed["certificates"] = cms.CertificateSet(ordered)
            reply = response.dump()
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a timestamp reply: {exc}") from exc
    return decode_timestamp_response(reply)


@dataclass(frozen=True)
class TimestampAuthority:
    url: str
    timeout: float = 30.0

    def stamp(self, data: bytes) -> bytes:
        """The TSA's reply over SHA-256(``data``), checked to answer this very request."""
        request = (
            TimestampRequestBuilder()
            .data(data)
            .hash_algorithm(HashAlgorithm.SHA256)
            .nonce(nonce=True)
            .cert_request(cert_request=True)
            .build()
        )
        try:
            response = httpx.post(
                self.url,
                content=request.as_bytes(),
                headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
                timeout=self.timeout,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise TimestampError(f"the timestamp authority {self.url} did not answer: {exc}") from exc
        try:
            reply = _decode(response.content)
        except ValueError as exc:
            raise TimestampError(
                f"the timestamp authority {self.url} sent no timestamp reply: {exc}"
            ) from exc
        if PKIStatus(reply.status) != PKIStatus.GRANTED:
            raise TimestampError(
                f"the timestamp authority {self.url} refused: status {reply.status} {reply.status_string}"
            )
        if reply.tst_info.nonce != request.nonce:
            raise TimestampError(f"the timestamp authority {self.url} answered another request (nonce)")
        if reply.tst_info.message_imprint.message != hashlib.sha256(data).digest():
            raise TimestampError(f"the timestamp authority {self.url} stamped another hash")
        return bytes(response.content)


def verify_reply(reply: bytes, sha256: str, trust: Trust) -> Stamped:
    """Check a stored reply covers ``sha256`` and is signed by a TSA that chains to ``trust``."""
    try:
        response = _decode(reply)
        builder = VerifierBuilder()
        for root in trust.roots:
            builder = builder.add_root_certificate(root)
        for intermediate in trust.intermediates:
            builder = builder.add_intermediate_certificate(intermediate)
        builder.build().verify(response, bytes.fromhex(sha256))
    except (ValueError, VerificationError) as exc:
        raise TimestampError(str(exc) or type(exc).__name__) from exc
    return Stamped(response.tst_info.gen_time, response.tst_info.serial_number)


def timestamper_from_settings(settings: Settings) -> TimestampAuthority | None:
    return TimestampAuthority(settings.tsa_url, settings.tsa_timeout) if settings.tsa_url else None


def trust_from_settings(settings: Settings) -> Trust | None:
    return load_trust(Path(settings.tsa_ca_file)) if settings.tsa_ca_file else None
