"""Reading certificates: DER bytes from a server or a file into CertificateInfo.

Every byte here may be hostile: a server can send anything in its Certificate
message and a user can paste anything. Nothing in this module raises on bad
input; unparseable bytes become a CertificateInfo with ``parse_error`` set.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from .report import CertificateInfo

# A PEM bundle pasted by a person or fetched from a URL; generous, but bounded.
MAX_BUNDLE_BYTES = 2 * 1024 * 1024
MAX_BUNDLE_CERTS = 500

# PEM labels read as certificates; the three certificate spellings may be
# mixed between BEGIN and END, as OpenSSL writes and reads them.
_CERT_LABELS = frozenset({b"CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CERTIFICATE"})
_PKCS7_LABEL = b"PKCS7"
_DASHES = b"-----"
_BEGIN = b"BEGIN "
_END = b"END "
# A label is a short word ("CERTIFICATE", "PKCS7"); anything longer is text.
_MAX_LABEL = 40


class BundleError(ValueError):
    """The input holds no certificate we can read; the message says why."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_certificate(der: bytes) -> x509.Certificate | None:
    """Parse DER into a cryptography certificate, or ``None`` if it is not one."""
    try:
        return x509.load_der_x509_certificate(der)
    except Exception:  # noqa: BLE001 - any parse failure means "not a certificate"
        return None


def describe(der: bytes) -> CertificateInfo:
    """Return the fields a person reads for these bytes; never raises."""
    cert = load_certificate(der)
    if cert is None:
        return _unparseable(der, "the bytes are not a valid DER X.509 certificate")
    try:
        return _describe(cert, der)
    except Exception as exc:  # noqa: BLE001 - malformed extensions parse lazily
        return _unparseable(der, f"the certificate has a malformed field ({_short(exc)})")


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def _unparseable(der: bytes, reason: str) -> CertificateInfo:
    digest = sha256_hex(der)
    return CertificateInfo(
        sha256=digest,
        der=der,
        subject="(unreadable certificate)",
        issuer="(unknown)",
        common_name="",
        serial="",
        not_before=None,
        not_after=None,
        spki_sha256="",
        ski=None,
        aki=None,
        signature_algorithm="unknown",
        signature_hash=None,
        key_type="unknown",
        key_size=0,
        is_ca=False,
        self_signed=False,
        parse_error=reason,
    )


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except Exception:  # noqa: BLE001
        return "(unreadable name)"


def common_name(name: x509.Name) -> str:
    try:
        values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    except Exception:  # noqa: BLE001
        return ""
    if not values:
        return ""
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def key_description(public_key: object) -> tuple[str, int]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {public_key.curve.name}", public_key.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(public_key, dsa.DSAPublicKey):
        return "DSA", public_key.key_size
    return "unknown", 0


def spki_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _describe(cert: x509.Certificate, der: bytes) -> CertificateInfo:
    try:
        spki = spki_der(cert)
        key_type, key_size = key_description(cert.public_key())
    except Exception:  # noqa: BLE001 - unsupported or malformed key
        spki = b""
        key_type, key_size = "unknown", 0

    ski_ext = _ext(cert, x509.SubjectKeyIdentifier)
    aki_ext = _ext(cert, x509.AuthorityKeyIdentifier)
    bc = _ext(cert, x509.BasicConstraints)
    aia = _ext(cert, x509.AuthorityInformationAccess)
    san_ext = _ext(cert, x509.SubjectAlternativeName)

    aia_issuers: list[str] = []
    if isinstance(aia, x509.AuthorityInformationAccess):
        for desc in aia:
            if desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS and isinstance(
                desc.access_location, x509.UniformResourceIdentifier
            ):
                aia_issuers.append(desc.access_location.value[:2048])

    san: list[str] = []
    if isinstance(san_ext, x509.SubjectAlternativeName):
        san.extend(san_ext.get_values_for_type(x509.DNSName))
        san.extend(str(ip) for ip in san_ext.get_values_for_type(x509.IPAddress))

    try:
        sig_hash = cert.signature_hash_algorithm
        signature_hash = sig_hash.name if sig_hash is not None else None
    except Exception:  # noqa: BLE001 - unsupported algorithm
        signature_hash = None
    try:
        oid = cert.signature_algorithm_oid
        signature_algorithm = getattr(oid, "_name", None) or oid.dotted_string
    except Exception:  # noqa: BLE001
        signature_algorithm = "unknown"

    subject = cert.subject
    issuer = cert.issuer
    return CertificateInfo(
        sha256=sha256_hex(der),
        der=der,
        subject=_name(subject),
        issuer=_name(issuer),
        common_name=common_name(subject),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        spki_sha256=sha256_hex(spki) if spki else "",
        ski=ski_ext.digest.hex() if isinstance(ski_ext, x509.SubjectKeyIdentifier) else None,
        aki=(
            aki_ext.key_identifier.hex()
            if isinstance(aki_ext, x509.AuthorityKeyIdentifier) and aki_ext.key_identifier
            else None
        ),
        signature_algorithm=signature_algorithm,
        signature_hash=signature_hash,
        key_type=key_type,
        key_size=key_size,
        is_ca=bool(isinstance(bc, x509.BasicConstraints) and bc.ca),
        self_signed=subject == issuer,
        aia_issuers=tuple(aia_issuers[:8]),
        san=tuple(san[:500]),
    )


def to_pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


def pem_bundle(certs: list[CertificateInfo] | tuple[CertificateInfo, ...]) -> str:
    return "".join(to_pem(c.der) for c in certs)


# The files a server's configuration takes, by the name a download asks for.
# fullchain: leaf first then intermediates (nginx, HAProxy, Caddy, Apache >=
# 2.4.8); chain: the intermediates alone (Apache < 2.4.8's
# SSLCertificateChainFile, ACM's "certificate chain" box); p7b: PKCS#7
# certs-only, what Windows' certificate import wizard and Java's keytool read.
CHAIN_FORMATS = ("fullchain", "chain", "p7b")


@dataclass(frozen=True)
class ChainFile:
    """Bytes to save, with the content type and the file name ending to use."""

    data: bytes
    content_type: str
    suffix: str


def chain_file(chain: Sequence[CertificateInfo], fmt: str) -> ChainFile:
    """Serialise a chain (leaf first) into one of ``CHAIN_FORMATS``.

    Certificates that do not parse are left out: no server can use them, and
    PKCS#7 cannot carry them.

    Raises:
        ValueError: for an unknown format, or when nothing is left to write.
    """
    readable = [c for c in chain if c.parse_error is None]
    if fmt == "chain":
        readable = readable[1:]
    if not readable:
        raise ValueError("this chain has no certificate to write in that format")
    if fmt in ("fullchain", "chain"):
        return ChainFile(pem_bundle(readable).encode("ascii"), "application/x-pem-file", ".pem")
    if fmt == "p7b":
        parsed = [x509.load_der_x509_certificate(c.der) for c in readable]
        data = pkcs7.serialize_certificates(parsed, serialization.Encoding.DER)
        return ChainFile(data, "application/x-pkcs7-certificates", ".p7b")
    raise ValueError(f"unknown chain format {fmt!r}")


def certificate_file(cert: CertificateInfo) -> ChainFile:
    """One certificate as DER ``.cer`` (what Windows double-clicks open)."""
    return ChainFile(cert.der, "application/pkix-cert", ".cer")


def read_bundle(data: bytes) -> list[bytes]:
    """Split PEM, DER or PKCS#7 (PEM or DER, certs-only) input into DER certificates.

    Order is kept, duplicates are kept: the first certificate is the leaf. A
    PEM block whose base64 is broken is returned as its raw bytes so that the
    analysis reports it as unreadable rather than silently dropping it.

    Raises:
        BundleError: when nothing certificate-like is found, or input is too big.
    """
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"the input is larger than {MAX_BUNDLE_BYTES // 1024} KiB")
    if load_certificate(data) is not None:
        # Plain DER: checked before stripping, because a DER certificate can
        # end in a byte that looks like whitespace.
        return [data]
    stripped = data.strip()
    if not stripped:
        raise BundleError("the input is empty")

    out: list[bytes] = []
    if b"-----BEGIN" in stripped:
        unterminated = False
        for label, body, whole in _pem_blocks(stripped):
            if label == _PKCS7_LABEL:
                out.extend(_pkcs7_der(_unbase64(body) or b"") if body is not None else ())
            elif body is None:
                # BEGIN followed by another BEGIN before its END: a block
                # cut short, shown as unreadable rather than dropped.
                unterminated = True
                out.append(whole)
            else:
                decoded = _unbase64(body)
                out.append(decoded if decoded is not None else whole)
            if len(out) > MAX_BUNDLE_CERTS:
                break
        if not out:
            raise BundleError(
                "a BEGIN CERTIFICATE line has no END CERTIFICATE line after it"
                if unterminated or _has_open_block(stripped)
                else "no BEGIN CERTIFICATE block was found in the PEM text"
            )
    else:
        if load_certificate(stripped) is not None:
            out.append(stripped)
        else:
            out.extend(_pkcs7_der(stripped))
        if not out:
            raise BundleError("the input is neither PEM, DER nor PKCS#7 certificates")
    if len(out) > MAX_BUNDLE_CERTS:
        raise BundleError(f"the input holds more than {MAX_BUNDLE_CERTS} certificates")
    return out


def _pem_blocks(text: bytes) -> Iterator[tuple[bytes, bytes | None, bytes]]:
    """Certificate and PKCS#7 blocks, in order: (label, base64 body or None, whole block).

    One forward scan over the text, each byte looked at a bounded number of
    times: a pattern that looks ahead to the end of the text for the END of
    every BEGIN takes quadratic time on text full of BEGIN lines (128 KiB
    took seconds). A BEGIN that meets another BEGIN before its END yields the
    cut-short block with ``None`` as body; a BEGIN still open at the end of
    the text yields nothing. Blocks with other labels (keys, CRLs) are skipped.
    """
    pos = 0
    open_label: bytes | None = None
    open_start = body_start = 0
    while True:
        at = text.find(_DASHES, pos)
        if at < 0:
            return
        word = at + len(_DASHES)
        if text.startswith(_BEGIN, word):
            label, after = _label(text, word + len(_BEGIN))
        elif text.startswith(_END, word):
            label, after = _label(text, word + len(_END))
        else:
            pos = word
            continue
        if label is None:
            pos = word
            continue
        if text.startswith(_BEGIN, word):
            if open_label is not None:
                yield open_label, None, text[open_start:at]
            open_label = _kind(label)
            open_start, body_start = at, after
        elif open_label is not None:
            if _kind(label) == open_label:
                yield open_label, text[body_start:at], text[open_start:after]
            open_label = None
        pos = after


def _label(text: bytes, start: int) -> tuple[bytes | None, int]:
    """The label after "-----BEGIN "/"-----END " and where its closing dashes end."""
    end = text.find(_DASHES, start, start + _MAX_LABEL + len(_DASHES))
    if end < 0 or b"\n" in text[start:end]:
        return None, start
    return text[start:end], end + len(_DASHES)


def _kind(label: bytes) -> bytes | None:
    if label in _CERT_LABELS:
        return b"CERTIFICATE"
    return _PKCS7_LABEL if label == _PKCS7_LABEL else None


def _has_open_block(text: bytes) -> bool:
    """Whether the text has a certificate BEGIN line (only asked when no block was read)."""
    return any(b"-----BEGIN " + label + _DASHES in text for label in _CERT_LABELS)


def _unbase64(body: bytes) -> bytes | None:
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _pkcs7_der(data: bytes) -> list[bytes]:
    for loader in (pkcs7.load_der_pkcs7_certificates, pkcs7.load_pem_pkcs7_certificates):
        try:
            certs = loader(data)
        except Exception:  # noqa: BLE001 - not this encoding
            continue
        return [c.public_bytes(serialization.Encoding.DER) for c in certs]
    return []


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
