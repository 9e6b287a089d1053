"""dkimpy's signer with the RSA step done by `cryptography` (OpenSSL), for
`publisher.senders.dkim`: imported only once a DKIM key is set up (dkimpy loads a DNS
library, cryptography OpenSSL's bindings)."""

from __future__ import annotations

import base64
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from dkim import RE_BTAG, HashThrough, fold, hash_headers


def signature_header(
    message: bytes, key: rsa.RSAPrivateKey, selector: str, domain: str, headers: list[bytes]
) -> bytes:
    """The DKIM-Signature header (relaxed/relaxed, rsa-sha256) of `message`, CRLF-terminated.

    Raises ValueError when dkimpy cannot sign the message (a malformed header block).
    """
    try:
        header = _DKIM(message, key).sign(
            selector.encode("ascii"),
            domain.encode("ascii"),
            _UNUSED_PEM,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=headers,
        )
    except dkim.DKIMException as exc:
        raise ValueError(f"cannot DKIM-sign this email: {exc}") from None
    return bytes(header)


class _DKIM(dkim.DKIM):  # type: ignore[misc]  # dkimpy has no type hints
    """dkimpy's signer, with the RSA step done by `cryptography` with a key loaded once."""

    def __init__(self, message: bytes, key: rsa.RSAPrivateKey) -> None:
        super().__init__(message)
        self.key = key

    def gen_header(
        self,
        fields: list[tuple[bytes, bytes]],
        include_headers: tuple[bytes, ...],
        canon_policy: Any,
        header_name: bytes,
        pk: object,
        standardize: bool = False,
    ) -> bytes:
        # The steps of dkimpy 1.1's DKIM.gen_header for rsa-sha256, copied because it calls
        # dkimpy's pure-Python RSA function inline, with no hook to replace it; only the
        # `signature =` line does something else. DKIM.sign never sets `standardize` (ARC
        # does); `pk` is dkimpy's parse of _UNUSED_PEM, and unused. tests/mail/test_dkim.py
        # checks that the header stays byte for byte dkim.sign's.
        value = b"; ".join(b"=".join(x) for x in fields)
        value = fold(value, namelen=len(header_name), linesep=b"\r\n")
        header = (header_name, b" " + RE_BTAG.sub(b"\\1", value))
        h = HashThrough(self.hasher(), self.debug_content)
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = hash_headers(
            h, canon_policy, headers, include_headers, header, dict(fields)
        )
        signature = self.key.sign(h.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        idx = [name for name, _ in fields].index(b"b")
        fields[idx] = (b"b", base64.b64encode(signature))
        value = b"; ".join(b"=".join(x) for x in fields) + self.linesep
        return bytes(fold(value, namelen=len(header_name), linesep=self.linesep))


#: What DkimSigner.sign hands DKIM.sign as the key: DKIM.sign parses the PEM it is given on
#: every call (in pure Python, ~0.2 ms for RSA 2048) only to pass it to gen_header, which _DKIM
#: replaces. So it gets this empty RSAPrivateKey (nine zero INTEGERs), cheap to parse, and the
#: real key, loaded once by `cryptography`, never reaches dkimpy.
_UNUSED_PEM = (
    b"-----BEGIN RSA PRIVATE KEY-----\n"
    + base64.b64encode(b"\x30\x1b" + b"\x02\x01\x00" * 9)
    + b"\n-----END RSA PRIVATE KEY-----\n"
)
