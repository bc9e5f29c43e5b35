"""A PKI factory for the engine tests, built with ``cryptography``.

Roots, intermediates, cross-signs and leaves with chosen names, keys, validity
windows and extensions, plus ``scenarios()``: one crafted chain per finding
code (and the healthy shapes that must stay silent), each with the codes the
analysis is expected to report.

Everything is cached per process (``functools.cache``): keys are reused by
label and EC keys are used wherever the key type does not matter, so the
whole catalogue builds in well under a second.

SHA-1 and MD5: ``cryptography`` 50 refuses to sign certificates with them
("Hash algorithm "sha1" not supported for signatures"). ``weak_hash_cert``
works around it without hand-writing DER: build the certificate with
sha256WithRSAEncryption, swap that OID for sha1WithRSAEncryption (same length,
so no DER length changes) in the TBS and in the outer AlgorithmIdentifier,
sign the new TBS with the raw RSA key (which still allows SHA-1), and put the
new signature (same length: the modulus size) in place of the old one.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from scans.engine.analysis import AnalysisLimits
from scans.engine.errors import FetchError
from scans.engine.trust import TrustStore, build_store

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]  # noqa: UP007 - runtime alias

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
CA_URL = "http://ca.example.test"

_CURVES = {"ec256": ec.SECP256R1(), "ec384": ec.SECP384R1(), "ec192": ec.SECP192R1()}
_RSA_BITS = {"rsa1024": 1024, "rsa2048": 2048}
_SIG_OID = {
    "sha256": bytes.fromhex("06092a864886f70d01010b"),
    "sha1": bytes.fromhex("06092a864886f70d010105"),
    "md5": bytes.fromhex("06092a864886f70d010104"),
}
_RAW_HASH = {"sha1": hashes.SHA1, "md5": hashes.MD5}


@functools.cache
def key_for(label: str, kind: str = "ec256") -> PrivateKey:
    """A private key, the same for the same label for the whole test session.

    Distinct labels give distinct keys: two CAs only share a key when a
    scenario asks for it (the X1/X3 case, cross-signs).
    """
    if kind in _CURVES:
        return ec.generate_private_key(_CURVES[kind])
    if kind in _RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[kind])
    raise ValueError(f"unknown key kind {kind!r}")


def name(cn: str, org: str | None = "chainscan tests") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


@dataclass(frozen=True)
class Issued:
    """A certificate and the key that belongs to it (to issue more)."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def subject(self) -> x509.Name:
        return self.cert.subject

    @property
    def cn(self) -> str:
        value = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return value if isinstance(value, str) else value.decode()

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def make_cert(
    subject: x509.Name,
    key: PrivateKey,
    *,
    issuer: Issued | None = None,
    ca: bool,
    not_before: dt.datetime = NOW - 365 * DAY,
    not_after: dt.datetime = NOW + 365 * DAY,
    san: Sequence[str] | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    aia: str | Sequence[str] | None = None,
    permitted_dns: Sequence[str] | None = None,
    path_length: int | None = None,
    hash_name: str = "sha256",
) -> Issued:
    """One certificate. ``issuer=None`` makes it self-signed.

    Args:
        san: DNS names or IP literals; ``None`` leaves the extension out.
        eku: Extended Key Usage OIDs; ``None`` means serverAuth for leaves and
            no extension for CAs.
        aia: caIssuers URL(s) pointing at the issuer's certificate.
        permitted_dns: name constraints (permitted DNS subtrees) for a CA.
        hash_name: ``sha256``, ``sha384``, or ``sha1``/``md5`` (RSA issuers only).
    """
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.subject if issuer else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(_key_usage(ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in san]), critical=False
        )
    usages = eku if eku is not None else (None if ca else [ExtendedKeyUsageOID.SERVER_AUTH])
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    if aia:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(url),
                    )
                    for url in ([aia] if isinstance(aia, str) else aia)
                ]
            ),
            critical=False,
        )
    if permitted_dns:
        builder = builder.add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName(d) for d in permitted_dns], excluded_subtrees=None
            ),
            critical=True,
        )
    if hash_name in _RAW_HASH:
        if not isinstance(signer_key, rsa.RSAPrivateKey):
            raise ValueError("SHA-1/MD5 certificates need an RSA issuer key")
        cert = weak_hash_cert(builder.sign(signer_key, hashes.SHA256()), signer_key, hash_name)
    else:
        algorithm = hashes.SHA384() if hash_name == "sha384" else hashes.SHA256()
        cert = builder.sign(signer_key, algorithm)
    return Issued(cert, key)


def _key_usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def weak_hash_cert(
    cert: x509.Certificate, key: rsa.RSAPrivateKey, hash_name: str
) -> x509.Certificate:
    """Re-sign a sha256WithRSAEncryption certificate with SHA-1 or MD5 (see module doc)."""
    old, new = _SIG_OID["sha256"], _SIG_OID[hash_name]
    der = cert.public_bytes(serialization.Encoding.DER)
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(old) == 1 and der.count(tbs) == 1
    new_tbs = tbs.replace(old, new)
    signature = key.sign(new_tbs, padding.PKCS1v15(), _RAW_HASH[hash_name]())
    assert len(signature) == len(cert.signature) and der.endswith(cert.signature)
    body = der.replace(tbs, new_tbs)
    end = body.index(new_tbs) + len(new_tbs)  # the outer AlgorithmIdentifier follows the TBS
    body = body[:end] + body[end:].replace(old, new, 1)
    return x509.load_der_x509_certificate(body[: -len(signature)] + signature)


# --- shorthands -------------------------------------------------------------------


def root(cn: str, *, key: PrivateKey | None = None, **kw: object) -> Issued:
    return make_cert(name(cn), key or key_for(cn), ca=True, **kw)  # type: ignore[arg-type]


def intermediate(cn: str, issuer: Issued, *, key: PrivateKey | None = None, **kw: object) -> Issued:
    return make_cert(name(cn), key or key_for(cn), issuer=issuer, ca=True, **kw)  # type: ignore[arg-type]


def leaf(
    host: str,
    issuer: Issued,
    *,
    san: Sequence[str] | None = None,
    key: PrivateKey | None = None,
    not_before: dt.datetime = NOW - 30 * DAY,
    not_after: dt.datetime = NOW + 60 * DAY,
    **kw: object,
) -> Issued:
    """A TLS server certificate for ``host`` (SAN defaults to the host)."""
    return make_cert(
        name(host, None),
        key or key_for("leaf:" + host),
        issuer=issuer,
        ca=False,
        san=[host] if san is None else san,
        not_before=not_before,
        not_after=not_after,
        **kw,  # type: ignore[arg-type]
    )


def cross_sign(ca: Issued, by: Issued, **kw: object) -> Issued:
    """``ca``'s name and key, issued by ``by``: the other route to the same CA."""
    return make_cert(ca.subject, ca.key, issuer=by, ca=True, **kw)  # type: ignore[arg-type]


# --- the scenario catalogue ----------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A crafted chain and what the analysis must say about it.

    Attributes:
        served: DER as a server would send it.
        anchors: DER of the roots of the scenario's trust store.
        issuers: DER of the known CA certificates (the issuer source).
        codes: the exact set of finding codes expected.
        aia: URL -> DER (or FetchError) for a fake fetcher; ``None`` means no
            fetcher at all (an offline check).
    """

    name: str
    served: tuple[bytes, ...]
    hostname: str | None
    anchors: tuple[bytes, ...]
    codes: frozenset[str]
    issuers: tuple[bytes, ...] = ()
    at: dt.datetime = NOW
    aia: Mapping[str, bytes | FetchError] | None = None
    limits: AnalysisLimits = field(default_factory=AnalysisLimits)
    description: str = ""


@dataclass(frozen=True)
class Cast:
    """The certificates the scenarios are made of, for tests that need names."""

    root: Issued
    issuing: Issued
    leaf: Issued
    legacy_root: Issued
    root_cross: Issued
    root_cross_expired: Issued
    policy_ca: Issued
    issuing3: Issued
    leaf3: Issued
    x1: Issued
    x3: Issued
    leaf_x3: Issued
    other_root: Issued
    other_issuing: Issued
    corp_root: Issued
    corp_issuing: Issued
    corp_leaf: Issued
    expired_issuing: Issued
    leaf_under_expired: Issued
    dst_root: Issued
    isrg_root: Issued
    isrg_cross: Issued
    r3: Issued
    leaf_r3: Issued
    wildcard_leaf: Issued
    ip_leaf: Issued
    no_san_leaf: Issued
    self_signed_leaf: Issued
    client_only_leaf: Issued
    constrained_ca: Issued
    constrained_leaf: Issued
    rsa_ca: Issued
    sha1_leaf: Issued
    weak_key_leaf: Issued
    weak_ca: Issued
    leaf_under_weak_ca: Issued
    renewed_issuing: Issued


@functools.cache
def cast() -> Cast:
    """Build every certificate once per process."""
    r = root("Example Root CA", not_before=NOW - 3650 * DAY, not_after=NOW + 3650 * DAY)
    issuing = intermediate("Example Issuing CA 1", r, aia=f"{CA_URL}/root.der")
    lf = leaf(
        "www.example.com",
        issuing,
        san=["www.example.com", "example.com"],
        aia=f"{CA_URL}/issuing1.der",
    )
    legacy = root("Example Legacy Root", not_before=NOW - 5000 * DAY, not_after=NOW + 1000 * DAY)
    policy = intermediate("Example Policy CA", r)
    issuing3 = intermediate("Example Issuing CA 3", policy)
    x_key = key_for("the key X1 and X3 share")
    x1 = intermediate(
        "Example Authority X1", r, key=x_key, not_before=NOW - 900 * DAY, not_after=NOW + 500 * DAY
    )
    x3 = intermediate("Example Authority X3", r, key=x_key)
    other_root = root("Other Root CA")
    corp_root = root("Corp Private Root")
    corp_issuing = intermediate("Corp Issuing CA", corp_root)
    expired_issuing = intermediate(
        "Example Issuing CA 2", r, not_before=NOW - 700 * DAY, not_after=NOW - DAY
    )
    dst = root("Legacy Root X3", not_before=NOW - 7000 * DAY, not_after=NOW - 100 * DAY)
    isrg = root("New Root X1", not_before=NOW - 3000 * DAY, not_after=NOW + 3000 * DAY)
    r3 = intermediate("New Issuing R3", isrg)
    rsa_ca = intermediate("Example RSA CA", r, key=key_for("Example RSA CA", "rsa2048"))
    weak_ca = intermediate("Example Weak CA", r, key=key_for("Example Weak CA", "rsa1024"))
    constrained = intermediate("Constrained CA", r, permitted_dns=["corp.example"])
    return Cast(
        root=r,
        issuing=issuing,
        leaf=lf,
        legacy_root=legacy,
        root_cross=cross_sign(r, legacy),
        root_cross_expired=cross_sign(
            r, legacy, not_before=NOW - 2000 * DAY, not_after=NOW - 10 * DAY
        ),
        policy_ca=policy,
        issuing3=issuing3,
        leaf3=leaf("deep.example.com", issuing3),
        x1=x1,
        x3=x3,
        leaf_x3=leaf("x3.example.com", x3, aia=f"{CA_URL}/x3.der"),
        other_root=other_root,
        other_issuing=intermediate("Other Issuing CA", other_root),
        corp_root=corp_root,
        corp_issuing=corp_issuing,
        corp_leaf=leaf("intranet.corp.example", corp_issuing),
        expired_issuing=expired_issuing,
        leaf_under_expired=leaf("old.example.com", expired_issuing),
        dst_root=dst,
        isrg_root=isrg,
        isrg_cross=cross_sign(isrg, dst, not_before=NOW - 1500 * DAY, not_after=NOW + 300 * DAY),
        r3=r3,
        leaf_r3=leaf("le.example.com", r3),
        wildcard_leaf=leaf("wild.example.com", issuing, san=["*.example.net"]),
        ip_leaf=leaf("ip.example.com", issuing, san=["192.0.2.10"]),
        no_san_leaf=leaf("nosan.example.com", issuing, san=()),
        self_signed_leaf=make_cert(
            name("selfsigned.example.com", None),
            key_for("leaf:selfsigned"),
            ca=False,
            san=["selfsigned.example.com"],
            not_before=NOW - 30 * DAY,
            not_after=NOW + 60 * DAY,
        ),
        client_only_leaf=leaf("client.example.com", issuing, eku=[ExtendedKeyUsageOID.CLIENT_AUTH]),
        constrained_ca=constrained,
        constrained_leaf=leaf("www.example.com", constrained, key=key_for("leaf:constrained")),
        rsa_ca=rsa_ca,
        sha1_leaf=leaf("sha1.example.com", rsa_ca, hash_name="sha1"),
        weak_key_leaf=leaf("weak.example.com", issuing, key=key_for("leaf:weak", "rsa1024")),
        weak_ca=weak_ca,
        leaf_under_weak_ca=leaf("weakca.example.com", weak_ca),
        renewed_issuing=intermediate("Example Issuing CA 2", r, key=expired_issuing.key),
    )


def _s(
    name_: str,
    served: Sequence[Issued | bytes],
    codes: Sequence[str],
    *,
    host: str | None = "www.example.com",
    anchors: Sequence[Issued] | None = None,
    issuers: Sequence[Issued] = (),
    description: str = "",
    **kw: object,
) -> Scenario:
    c = cast()
    return Scenario(
        name=name_,
        served=tuple(x if isinstance(x, bytes) else x.der for x in served),
        hostname=host,
        anchors=tuple(a.der for a in (anchors if anchors is not None else [c.root])),
        codes=frozenset(codes),
        issuers=tuple(i.der for i in issuers),
        description=description,
        **kw,  # type: ignore[arg-type]
    )


@functools.cache
def scenarios() -> dict[str, Scenario]:
    """Every crafted chain, by name. Built once per process."""
    c = cast()
    expiry = c.leaf.cert.not_valid_after_utc
    start = c.leaf.cert.not_valid_before_utc
    items = [
        _s("healthy", [c.leaf, c.issuing], []),
        _s("healthy-three-levels", [c.leaf3, c.issuing3, c.policy_ca], [], host="deep.example.com"),
        _s(
            "cross-sign-longer-valid-path",
            [c.leaf, c.issuing, c.root_cross],
            [],
            anchors=[c.root, c.legacy_root],
            description="a valid cross-sign to another trusted root is a path, not extra",
        ),
        _s(
            "cross-sign-to-root-not-in-store",
            [c.leaf, c.issuing, c.root_cross],
            [],
            description="the Let's Encrypt 2021–2024 shape: a cross-sign for older stores",
        ),
        _s("wildcard-covers-one-label", [c.wildcard_leaf, c.issuing], [], host="a.example.net"),
        _s("ip-address-san", [c.ip_leaf, c.issuing], [], host="192.0.2.10"),
        _s("offline-without-hostname", [c.leaf, c.issuing], [], host=None),
        _s(
            "incomplete-chain",
            [c.leaf],
            ["incomplete-chain"],
            issuers=[c.issuing],
        ),
        _s(
            "incomplete-chain-issuer-unknown",
            [c.leaf],
            ["incomplete-chain"],
            description="nothing knows the issuer: still a missing intermediate",
        ),
        _s(
            "incomplete-chain-fixed-by-aia",
            [c.leaf],
            ["incomplete-chain"],
            aia={f"{CA_URL}/issuing1.der": c.issuing.der},
        ),
        _s(
            "aia-fetch-failed",
            [c.leaf],
            ["incomplete-chain", "aia-fetch-failed"],
            aia={f"{CA_URL}/issuing1.der": FetchError("timed out after 5 s")},
        ),
        _s(
            "x1-x3",
            [c.leaf_x3, c.x1],
            ["wrong-intermediate-same-key"],
            host="x3.example.com",
            issuers=[c.x3, c.x1],
        ),
        _s(
            "x1-x3-nothing-known",
            [c.leaf_x3, c.x1],
            ["wrong-intermediate-same-key"],
            host="x3.example.com",
        ),
        _s(
            "x1-x3-aia",
            [c.leaf_x3, c.x1],
            ["wrong-intermediate-same-key"],
            host="x3.example.com",
            aia={f"{CA_URL}/x3.der": c.x3.der},
        ),
        _s(
            "wrong-intermediate",
            [c.leaf, c.other_issuing],
            ["wrong-intermediate"],
            anchors=[c.root, c.other_root],
            issuers=[c.issuing],
        ),
        _s(
            "wrong-order",
            [c.leaf3, c.policy_ca, c.issuing3],
            ["wrong-order"],
            host="deep.example.com",
        ),
        _s("leaf-not-first", [c.issuing, c.leaf], ["wrong-order"]),
        _s("contains-anchor", [c.leaf, c.issuing, c.root], ["contains-anchor"]),
        _s(
            "extra-certs",
            [c.leaf, c.issuing, c.other_issuing],
            ["extra-certs"],
            anchors=[c.root, c.other_root],
        ),
        _s("duplicate-cert", [c.leaf, c.issuing, c.issuing], ["duplicate-cert"]),
        _s("leaf-expired", [c.leaf, c.issuing], ["leaf-expired"], at=expiry + DAY),
        _s("leaf-not-yet-valid", [c.leaf, c.issuing], ["leaf-not-yet-valid"], at=start - DAY),
        _s("leaf-expiring-soon", [c.leaf, c.issuing], ["leaf-expiring-soon"], at=expiry - 10 * DAY),
        _s(
            "expired-cross-sign-with-valid-path",
            [c.leaf, c.issuing, c.root_cross_expired],
            ["intermediate-expired"],
            anchors=[c.root, c.legacy_root],
            description="the AddTrust 2020 shape: fine for modern clients, a warning",
        ),
        _s(
            "intermediate-expired",
            [c.leaf_under_expired, c.expired_issuing],
            ["intermediate-expired"],
            host="old.example.com",
        ),
        _s(
            "hostname-mismatch", [c.leaf, c.issuing], ["hostname-mismatch"], host="mail.example.org"
        ),
        _s(
            "wildcard-does-not-cover-two-labels",
            [c.wildcard_leaf, c.issuing],
            ["hostname-mismatch"],
            host="a.b.example.net",
        ),
        _s("no-san", [c.no_san_leaf, c.issuing], ["no-san"], host="nosan.example.com"),
        _s(
            "self-signed-leaf",
            [c.self_signed_leaf],
            ["self-signed-leaf"],
            host="selfsigned.example.com",
        ),
        _s(
            "untrusted-root",
            [c.corp_leaf, c.corp_issuing, c.corp_root],
            ["untrusted-root"],
            host="intranet.corp.example",
        ),
        _s(
            "untrusted-root-not-served",
            [c.corp_leaf, c.corp_issuing],
            ["untrusted-root"],
            host="intranet.corp.example",
            issuers=[c.corp_root],
        ),
        _s(
            "expired-intermediate-renewed-elsewhere",
            [c.leaf_under_expired, c.expired_issuing],
            ["intermediate-expired"],
            host="old.example.com",
            issuers=[c.renewed_issuing],
            description="the CA re-issued the intermediate (same name and key); serve the new one",
        ),
        _s(
            "x1-and-x3-both-served",
            [c.leaf_x3, c.x1, c.x3],
            ["extra-certs"],
            host="x3.example.com",
            description="X3 is there, so X1 is only along for the ride",
        ),
        _s(
            "root-expired",
            [c.leaf_r3, c.r3, c.isrg_cross],
            ["root-expired"],
            host="le.example.com",
            anchors=[c.dst_root],
            description="DST Root CA X3, 2021: a store without the new root",
        ),
        _s(
            "root-expired-but-new-root-trusted",
            [c.leaf_r3, c.r3, c.isrg_cross],
            [],
            host="le.example.com",
            anchors=[c.dst_root, c.isrg_root],
        ),
        _s(
            "invalid-path-eku",
            [c.client_only_leaf, c.issuing],
            ["invalid-path"],
            host="client.example.com",
        ),
        _s(
            "invalid-path-name-constraints",
            [c.constrained_leaf, c.constrained_ca],
            ["invalid-path"],
        ),
        _s(
            "weak-signature",
            [c.sha1_leaf, c.rsa_ca],
            ["weak-signature"],
            host="sha1.example.com",
        ),
        _s("weak-key-leaf", [c.weak_key_leaf, c.issuing], ["weak-key"], host="weak.example.com"),
        _s(
            "weak-key-intermediate",
            [c.leaf_under_weak_ca, c.weak_ca],
            ["weak-key"],
            host="weakca.example.com",
        ),
        _s(
            "too-many-certs",
            [c.leaf, c.issuing],
            ["too-many-certs"],
            limits=AnalysisLimits(max_chain_certs=1),
        ),
        _s("unreadable-cert", [c.leaf, c.issuing, b"\x30\x03garbage"], ["unreadable-cert"]),
        _s("no-certificate", [], ["no-certificate"]),
    ]
    return {s.name: s for s in items}


@functools.cache
def trust_for(anchors: tuple[bytes, ...]) -> TrustStore:
    """A trust store holding exactly these roots (cached, like the real ones)."""
    certs = [x509.load_der_x509_certificate(d) for d in anchors]
    return build_store("test", [(cert, "test roots") for cert in certs])
