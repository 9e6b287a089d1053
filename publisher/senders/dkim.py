"""DKIM signatures (RFC 6376) over an email's final bytes, with dkimpy, for MAIL_FROM's domain.

    signer = DkimSigner.from_settings(settings)   # None when DKIM is not configured
    data = signer.sign(data) if signer else data  # after personalisation, before sending

Any mailer of the project (releases, the briefing, a transactional confirmation mail) signs the
same way: relaxed/relaxed canonicalisation, rsa-sha256, the headers in SIGNED_HEADERS, with
From, Subject and both List-Unsubscribe headers signed once more than they occur, so that no
second copy can be added on the way without breaking the signature. A key that is missing,
unreadable or not an RSA PEM raises DkimConfigError with a one-line fix; the key itself never
appears in a message or a log.

dkimpy does all of it (header selection, canonicalisation, body hash, the tag list, folding)
but the RSA private-key operation, which `cryptography` (OpenSSL) does with the key loaded once:
dkimpy computes it in pure Python (`pow` over two 1,024-bit primes for RSA 2048), about 6.7 ms
a message, nearly all of a signature's cost, where OpenSSL takes about 0.25 ms. PKCS#1 v1.5
signatures are deterministic, so the header is byte for byte the one `dkim.sign` would make.
That machinery (`publisher.senders.dkim_rsa`) and dkimpy with its DNS library weigh about
20 MiB, so they are loaded only once a key is: a bot or a worker without DKIM never pays.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from publisher.channels.email_mime import mail_domain
from publisher.settings import Settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

#: Every header a signature covers (absent ones too: signing an absent header forbids adding it).
SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
    "Content-Language",
)
#: Headers signed one time more than they occur ("oversigned"): nobody can add a second one.
OVERSIGNED: tuple[str, ...] = ("From", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post")
MIN_KEY_BITS = 1024  # RFC 8301: verifiers reject shorter RSA keys
_SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9_-]+)*")
_PROBE = b"From: probe@example.org\r\nSubject: probe\r\n\r\nprobe\r\n"


class DkimConfigError(ValueError):
    """Raised when DKIM_PRIVATE_KEY or DKIM_SELECTOR cannot be used; the message is one line
    naming the setting and the fix, never the key."""


@dataclass(frozen=True)
class DkimSigner:
    """Signs whole messages for one domain and selector with one RSA key."""

    selector: str
    domain: str
    key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimSigner | None:
        """The signer DKIM_PRIVATE_KEY and DKIM_SELECTOR describe; None when neither is set.

        Raises DkimConfigError when only one is set, or the key file is missing, unreadable or
        not an RSA private key (PEM, PKCS#1 or PKCS#8) of at least 1024 bits.
        """
        path, selector = settings.dkim_private_key, (settings.dkim_selector or "").strip()
        if path is None and not selector:
            return None
        if path is None or not str(path).strip():
            raise DkimConfigError(
                "DKIM_SELECTOR is set but DKIM_PRIVATE_KEY is not: set both, or neither"
            )
        if not selector:
            raise DkimConfigError(
                "DKIM_PRIVATE_KEY is set but DKIM_SELECTOR is not: set both, or neither"
            )
        return cls.from_file(Path(path), selector, mail_domain(settings.mail_from))

    @classmethod
    def from_file(cls, path: Path, selector: str, domain: str) -> DkimSigner:
        """A signer with the PEM key in `path` (DkimConfigError as for from_settings)."""
        if not _SELECTOR.fullmatch(selector):
            raise DkimConfigError(
                f"DKIM_SELECTOR {selector!r} is not a DNS label; fix: a name such as 'press2024'"
            )
        try:
            key_pem = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise DkimConfigError(
                f"DKIM_PRIVATE_KEY {path}: cannot read it ({reason}); "
                "fix: point DKIM_PRIVATE_KEY at a readable PEM file"
            ) from None
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        fix = "fix: an RSA private key in PEM (openssl genrsa -out dkim.pem 2048)"
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except Exception:  # noqa: BLE001 - the errors may quote the key: say none of it
            key = None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise DkimConfigError(f"DKIM_PRIVATE_KEY {path}: not an RSA private key in PEM; {fix}")
        if key.key_size < MIN_KEY_BITS:
            raise DkimConfigError(
                f"DKIM_PRIVATE_KEY {path}: a {key.key_size}-bit key, receivers reject keys under "
                f"{MIN_KEY_BITS} bits; {fix}"
            )
        signer = cls(selector, domain, key)
        try:
            signer.sign(_PROBE)
        except ValueError:
            raise DkimConfigError(f"DKIM_PRIVATE_KEY {path}: this key cannot sign; {fix}") from None
        return signer

    def sign(self, message: bytes) -> bytes:
        """`message` with its DKIM-Signature header on top (CRLF line ends expected).

        Raises ValueError when dkimpy cannot sign the message (a malformed header block).
        """
        from publisher.senders.dkim_rsa import signature_header

        header = signature_header(
            message, self.key, self.selector, self.domain, self._headers(message)
        )
        return header + message

    @staticmethod
    def _headers(message: bytes) -> list[bytes]:
        """SIGNED_HEADERS, each oversigned one once more than it occurs in the message."""
        head = message.split(b"\r\n\r\n", 1)[0].lower()
        names = [h.encode("ascii") for h in SIGNED_HEADERS]
        for name in OVERSIGNED:
            wanted = name.lower().encode("ascii")
            occurs = head.count(b"\n" + wanted + b":") + head.startswith(wanted + b":")
            names += [name.encode("ascii")] * occurs
        return names


def public_key_record(key_pem: bytes) -> bytes:
    """The DNS TXT record (`v=DKIM1; k=rsa; p=...`) publishing the public half of `key_pem`
    at `{selector}._domainkey.{domain}`: what an operator publishes, and what tests verify
    against without DNS."""
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_pem_private_key(key_pem, password=None).public_key()
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(spki)
