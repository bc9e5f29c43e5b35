"""The fix for the admin's own server: which commands to run, on IIS, nginx, Apache…

"Serve the right chain file" is no help on IIS, which has no chain file:
SChannel builds the chain itself from the Windows certificate stores, picks
the issuer by key identifier and caches the result. Each server takes the
chain its own way, so the fix is written per server, naming certificates by
SHA-1 thumbprint (what Windows tools and ``keytool`` show) and SHA-256.

Everything that comes from a certificate and ends up in a command is quoted
for that command's language: a hostile certificate name must not become
PowerShell or shell code when an admin pastes it.
"""

from __future__ import annotations

import base64
import re
import textwrap
from dataclasses import dataclass

from .report import CertificateInfo, EndpointReport

# (key, label) in the order the picker lists them.
SERVERS: tuple[tuple[str, str], ...] = (
    ("iis", "IIS / Windows (SChannel)"),
    ("nginx", "nginx"),
    ("apache", "Apache httpd"),
    ("haproxy", "HAProxy"),
    ("caddy", "Caddy"),
    ("traefik", "Traefik"),
    ("java", "Java / Tomcat"),
    ("kubernetes", "Kubernetes ingress"),
    ("aws", "AWS ACM / ELB"),
    ("azure", "Azure App Service"),
    ("cloudflare", "Cloudflare"),
)
LABELS = dict(SERVERS)
# Server header (lower case) -> kind; first match wins.
_DETECT = (
    ("microsoft-iis", "iis"),
    ("microsoft-httpapi", "iis"),
    ("openresty", "nginx"),
    ("nginx", "nginx"),
    ("apache-coyote", "java"),
    ("tomcat", "java"),
    ("jetty", "java"),
    ("apache", "apache"),
    ("haproxy", "haproxy"),
    ("caddy", "caddy"),
    ("traefik", "traefik"),
    ("awselb", "aws"),
    ("cloudflare", "cloudflare"),
)
# Findings a server-side chain change fixes.
CHAIN_CODES = frozenset(
    {
        "incomplete-chain",
        "wrong-intermediate-same-key",
        "wrong-intermediate",
        "wrong-order",
        "contains-anchor",
        "extra-certs",
        "duplicate-cert",
        "intermediate-expired",
        "missing-on-platforms",
    }
)


def detect(server_header: str | None) -> str | None:
    """The server kind a ``Server`` header names (``Microsoft-IIS/10.0`` → ``iis``), or ``None``."""
    lowered = (server_header or "").lower()
    return next((kind for needle, kind in _DETECT if needle in lowered), None)


@dataclass(frozen=True)
class Step:
    """One thing to do: words, and optionally commands to paste."""

    text: str
    code: str = ""


@dataclass(frozen=True)
class ServerFix:
    """The fix for one endpoint on one kind of server."""

    kind: str
    label: str
    detected: bool
    summary: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class _Chain:
    leaf: CertificateInfo | None
    wrong: tuple[CertificateInfo, ...]  # served, on no path the server should serve
    right: tuple[CertificateInfo, ...]  # the intermediates to serve (expected minus the leaf)
    missing: tuple[CertificateInfo, ...]  # of those, the ones not served


def needs_fix(endpoint: EndpointReport) -> bool:
    """Whether the served chain differs from what it should be (a server-side fix exists)."""
    return any(f.code in CHAIN_CODES for f in endpoint.findings)


def sha1(cert: CertificateInfo) -> str:
    """The SHA-1 thumbprint Windows and keytool show (upper-case hex), or '' without the bytes."""
    return cert.sha1.upper()


def names(cert: CertificateInfo) -> str:
    """A certificate as a person finds it in any tool: name, SHA-1 thumbprint, SHA-256."""
    thumb = sha1(cert)
    return (
        f"{cert.label} (SHA-1 {thumb}, SHA-256 {cert.sha256})"
        if thumb
        else (f"{cert.label} (SHA-256 {cert.sha256})")
    )


def pem(cert: CertificateInfo) -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(cert.der).decode("ascii"), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"


def _chain(endpoint: EndpointReport) -> _Chain:
    expected = {c.sha256 for c in endpoint.expected}
    anchor = endpoint.anchor.sha256 if endpoint.anchor else ""
    leaf = endpoint.served[0] if endpoint.served else None
    wrong = tuple(
        dict.fromkeys(
            c
            for c in endpoint.served[1:]
            if c.sha256 not in expected and c.sha256 != anchor and not c.parse_error
        )
    )
    right = tuple(endpoint.expected[1:])
    served = {c.sha256 for c in endpoint.served}
    return _Chain(leaf, wrong, right, tuple(c for c in right if c.sha256 not in served))


def _ps(text: str) -> str:
    """A PowerShell single-quoted string literal. PowerShell also ends such a
    string at the typographic quotes ‘ ’ ‚ ‛, so those are doubled too; control
    characters are dropped."""
    clean = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    return "'" + re.sub("(['\u2018\u2019\u201a\u201b])", r"\1\1", clean) + "'"


def _file(cert: CertificateInfo) -> str:
    """A safe file name for a certificate: letters, digits and dashes only."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", cert.label).strip("-")[:40] or "certificate"
    return f"{stem}-{cert.sha256[:8]}"


def _fullchain_text(c: _Chain) -> str:
    if c.leaf is None:
        return "your certificate, then the intermediates your CA gave you"
    parts = [c.leaf.label, *(r.label for r in c.right)]
    return " → ".join(parts) + " (not the root)"


def fix_for(kind: str, endpoint: EndpointReport, *, detected: bool = False) -> ServerFix:
    """The fix for ``endpoint`` on a ``kind`` of server (a key of ``SERVERS``).

    Raises:
        KeyError: for a kind that is not in ``SERVERS``.
    """
    label = LABELS[kind]
    c = _chain(endpoint)
    build = _BUILDERS[kind]
    summary, steps = build(c, endpoint)
    return ServerFix(kind, label, detected, summary, tuple(steps))


def _common_files(c: _Chain) -> Step:
    if not c.right:
        return Step(
            "chainscan could not build the chain to a trusted root, so it cannot give you the "
            "intermediates: take them from your CA (the 'chain' or 'fullchain' file of your order)."
        )
    blocks = "\n".join(pem(r) for r in c.right if r.der)
    return Step(
        "The intermediates to serve after your certificate, in this order: "
        + "; ".join(names(r) for r in c.right)
        + ". Save them as chain.pem (and your certificate followed by them as fullchain.pem):",
        blocks,
    )


def _wrong_words(c: _Chain) -> str:
    if not c.wrong:
        return ""
    return (
        "It serves " + "; ".join(names(w) for w in c.wrong) + ", which belongs on no valid path. "
    )


# --- per server ----------------------------------------------------------------------


def _iis(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    wrong = c.wrong
    right = c.right
    same_key = [(w, r) for w in wrong for r in right if w.ski and r.ski and w.ski == r.ski] or [
        (w, r) for w in wrong for r in right if w.spki_sha256 == r.spki_sha256
    ]
    why = (
        "IIS has no chain file. SChannel builds the chain it sends from the Windows certificate "
        "stores, choosing the issuer of your certificate by its key identifier (the Authority "
        "Key Identifier must match the issuer's Subject Key Identifier), and it caches the chain "
        "it built until HTTP.sys restarts. "
    )
    if same_key:
        w, r = same_key[0]
        why += (
            f"{w.label} and {r.label} carry the same key (Subject Key Identifier "
            f"{w.ski or '(same key)'}), so while {w.label} is in any store SChannel may pick it "
            f"for a certificate {r.label} issued — the 2016 Let's Encrypt X1/X3 case. Deleting it "
            "from one store and not rebooting is why it 'keeps coming back'."
        )
    summary = why + " " + _wrong_words(c)
    steps: list[Step] = []
    thumbs = [sha1(w) for w in wrong if sha1(w)]
    if wrong:
        subjects = ", ".join(_ps(f"CN={w.common_name or w.label}") for w in wrong)
        steps.append(
            Step(
                "Find every copy of the wrong intermediate in every store of the machine "
                "(LocalMachine\\CA, \\Root, \\AuthRoot, \\My…) and of the account running this "
                "PowerShell (CurrentUser), by SHA-1 thumbprint and by subject. Run it again as "
                "the service account if the site's service runs as one (runas /user:DOMAIN\\svc "
                "powershell); IIS itself (HTTP.sys) runs as LocalSystem and uses LocalMachine.",
                "$thumbprints = @(" + ", ".join(_ps(t) for t in thumbs) + ")\n"
                "$subjects = @(" + subjects + ")\n"
                "Get-ChildItem -Recurse Cert:\\LocalMachine, Cert:\\CurrentUser |\n"
                "  Where-Object { -not $_.PSIsContainer } | ForEach-Object {\n"
                "    $c = $_\n"
                "    if ($thumbprints -contains $c.Thumbprint -or\n"
                "        ($subjects | Where-Object { $c.Subject.Contains($_) })) { $c }\n"
                "  } | Format-List PSParentPath, Subject, Issuer, Thumbprint, NotAfter",
            )
        )
        steps.append(
            Step(
                "Remove every copy of it (by thumbprint, so a certificate with the same name "
                "but another key stays):",
                "Get-ChildItem -Recurse Cert:\\LocalMachine, Cert:\\CurrentUser |\n"
                "  Where-Object { $thumbprints -contains $_.Thumbprint } | Remove-Item",
            )
        )
    if right:
        folder = "C:\\temp\\"
        imports = "\n".join(
            "Import-Certificate -FilePath "
            + _ps(folder + _file(r) + ".cer")
            + " -CertStoreLocation Cert:\\LocalMachine\\CA"
            for r in right
        )
        steps.append(
            Step(
                "Import the right intermediate(s) into Intermediate Certification Authorities "
                "(LocalMachine\\CA): save each block below as C:\\temp\\<name>.cer, then run the "
                "commands. The right one: " + "; ".join(names(r) for r in right) + ".",
                "\n\n".join(f"# {_file(r)}.cer\n{pem(r)}" for r in right if r.der)
                + "\n\n"
                + imports,
            )
        )
    else:
        steps.append(
            Step(
                "Import the intermediate your CA issued your certificate from (its 'chain' file) "
                "into Intermediate Certification Authorities:",
                "Import-Certificate -FilePath 'C:\\temp\\intermediate.cer' "
                "-CertStoreLocation Cert:\\LocalMachine\\CA",
            )
        )
    steps.append(
        Step(
            "Clear the cached chains and downloaded certificates (SChannel keeps them):",
            "certutil -urlcache * delete\ncertutil -setreg chain\\ChainCacheResyncFiletime @now",
        )
    )
    steps.append(
        Step(
            "Restart HTTP.sys, which holds the cached chain (this stops IIS and every site on "
            "the machine for a moment; a reboot does the same):",
            "net stop http /y\nnet start w3svc",
        )
    )
    if c.leaf is not None and sha1(c.leaf):
        steps.append(
            Step(
                "Check the binding uses your certificate (its SHA-1 thumbprint "
                f"{sha1(c.leaf)}), then scan again:",
                "netsh http show sslcert",
            )
        )
    return summary, steps


def _nginx(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    return (
        _wrong_words(c) + "nginx sends exactly the file named by ssl_certificate: your "
        "certificate first, then the intermediates, " + _fullchain_text(c) + ".",
        [
            _common_files(c),
            Step(
                "Build the file and point nginx at it (certbot's fullchain.pem is already right):",
                "cat cert.pem chain.pem > /etc/nginx/tls/fullchain.pem\n\n"
                "# in the server { } block:\n"
                "ssl_certificate     /etc/nginx/tls/fullchain.pem;\n"
                "ssl_certificate_key /etc/nginx/tls/privkey.pem;",
            ),
            Step("Test and reload:", "nginx -t && systemctl reload nginx"),
        ],
    )


def _apache(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    version = re.search(r"Apache/(\d+)\.(\d+)\.(\d+)", endpoint.server or "")
    old = bool(version and tuple(int(v) for v in version.groups()) < (2, 4, 8))
    said = f" The server says {endpoint.server}." if version else ""
    return (
        _wrong_words(c) + "Apache 2.4.8 and later read the whole chain from SSLCertificateFile; "
        "before 2.4.8 the intermediates go in SSLCertificateChainFile." + said,
        [
            _common_files(c),
            Step(
                "Apache 2.4.8 or later" + (" (not yours)" if old else "") + ":",
                "cat cert.pem chain.pem > /etc/ssl/site/fullchain.pem\n\n"
                "SSLCertificateFile    /etc/ssl/site/fullchain.pem\n"
                "SSLCertificateKeyFile /etc/ssl/site/privkey.pem\n"
                "# and remove any SSLCertificateChainFile line",
            ),
            Step(
                "Apache before 2.4.8" + (" (yours)" if old else "") + ":",
                "SSLCertificateFile      /etc/ssl/site/cert.pem\n"
                "SSLCertificateChainFile /etc/ssl/site/chain.pem\n"
                "SSLCertificateKeyFile   /etc/ssl/site/privkey.pem",
            ),
            Step("Test and reload:", "apachectl configtest && apachectl graceful"),
        ],
    )


def _haproxy(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    return (
        _wrong_words(c) + "HAProxy sends what the crt file holds: certificate, intermediates and "
        "key in one PEM file.",
        [
            _common_files(c),
            Step(
                "Build the file (certificate, intermediates, then the key) and check the bind line:",
                "cat cert.pem chain.pem privkey.pem > /etc/haproxy/certs/site.pem\n\n"
                "bind :443 ssl crt /etc/haproxy/certs/site.pem",
            ),
            Step(
                "Check and reload:",
                "haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy",
            ),
        ],
    )


def _acme_preference(c: _Chain) -> str:
    root = c.right[-1].issuer if c.right else ""
    match = re.search(r"CN=([^,]+)", root)
    return match.group(1) if match else "ISRG Root X1"


def _caddy(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    root = _acme_preference(c)
    return (
        _wrong_words(c) + "Caddy serves the chain its ACME CA returned; when the CA offers "
        "several (a long chain through a cross-sign, a short one), pick one by its root.",
        [
            Step(
                "Prefer the chain to the root clients have (Caddyfile, global options):",
                "{\n  cert_issuer acme {\n    preferred_chains {\n      root_common_name "
                + _quote_caddy(root)
                + "\n    }\n  }\n}",
            ),
            Step(
                "For a certificate you manage yourself, give Caddy the full chain:",
                "tls /etc/caddy/fullchain.pem /etc/caddy/privkey.pem",
            ),
            _common_files(c),
            Step("Reload:", "caddy reload --config /etc/caddy/Caddyfile"),
        ],
    )


def _quote_caddy(text: str) -> str:
    return '"' + re.sub(r'["\\\n\r{}]', "", text) + '"'


def _traefik(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    root = _acme_preference(c)
    return (
        _wrong_words(c) + "Traefik serves the chain its ACME resolver got; preferredChain picks "
        "among the chains the CA offers. Certificates from the file provider must hold the "
        "full chain.",
        [
            Step(
                "Static configuration (traefik.yml):",
                "certificatesResolvers:\n  le:\n    acme:\n"
                f"      preferredChain: {_quote_caddy(root)}",
            ),
            Step(
                "File provider: certFile is the full chain.",
                "tls:\n  certificates:\n    - certFile: /certs/fullchain.pem\n"
                "      keyFile: /certs/privkey.pem",
            ),
            _common_files(c),
        ],
    )


def _java(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    return (
        _wrong_words(c) + "Java servers (Tomcat, Jetty, Spring Boot) send the certificate "
        "chain stored with the key entry in the keystore, in its order: your certificate, then "
        "the intermediates.",
        [
            Step(
                "See the chain of the key entry (keytool shows SHA-1 and SHA-256 fingerprints):",
                "keytool -list -v -keystore keystore.p12 -alias tomcat | "
                "grep -E 'Certificate chain length|Owner|SHA1|SHA256'",
            ),
            _common_files(c),
            Step(
                "Rebuild the keystore with the full chain, in order:",
                "openssl pkcs12 -export -in cert.pem -inkey privkey.pem -certfile chain.pem "
                "-name tomcat -out keystore.p12",
            ),
            Step(
                "Tomcat 9+ can also read PEM files directly (server.xml, <Certificate>):",
                'certificateFile="conf/cert.pem" certificateKeyFile="conf/privkey.pem" '
                'certificateChainFile="conf/chain.pem"',
            ),
            Step("Restart the server (Java reads the keystore at start-up)."),
        ],
    )


def _kubernetes(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    return (
        _wrong_words(c) + "Ingress controllers serve the secret's tls.crt as it is: it must "
        "hold your certificate followed by the intermediates.",
        [
            _common_files(c),
            Step(
                "Replace the TLS secret with the full chain:",
                "kubectl create secret tls SECRET --cert=fullchain.pem --key=privkey.pem "
                "--dry-run=client -o yaml | kubectl apply -n NAMESPACE -f -",
            ),
            Step(
                "Check what the secret holds:",
                "kubectl get secret SECRET -n NAMESPACE -o jsonpath='{.data.tls\\.crt}' | base64 -d "
                "| openssl crl2pkcs7 -nocrl -certfile /dev/stdin | openssl pkcs7 -print_certs -noout",
            ),
            Step(
                "With cert-manager, choose the chain on the Issuer "
                '(spec.acme.preferredChain: "' + _acme_preference(c) + '").'
            ),
        ],
    )


def _aws(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    return (
        _wrong_words(c) + "The load balancer serves the chain imported with the certificate. "
        "Certificates issued by ACM get their chain from AWS; imported ones need it given "
        "separately.",
        [
            _common_files(c),
            Step(
                "Re-import into the same ARN with the chain (listeners keep using it):",
                "aws acm import-certificate --certificate-arn ARN "
                "--certificate fileb://cert.pem --certificate-chain fileb://chain.pem "
                "--private-key fileb://privkey.pem",
            ),
            Step(
                "Classic ELB with an IAM certificate: upload a new one with the chain and switch "
                "the listener to it.",
                "aws iam upload-server-certificate --server-certificate-name site-new "
                "--certificate-body file://cert.pem --certificate-chain file://chain.pem "
                "--private-key file://privkey.pem",
            ),
        ],
    )


def _azure(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    leaf = sha1(c.leaf) if c.leaf is not None else "THUMBPRINT"
    return (
        _wrong_words(c) + "App Service serves the chain inside the PFX you upload: a PFX with only "
        "your certificate gives an incomplete chain.",
        [
            _common_files(c),
            Step(
                "Build a PFX with the whole chain and upload it:",
                "openssl pkcs12 -export -out site.pfx -inkey privkey.pem -in cert.pem "
                "-certfile chain.pem\n"
                "az webapp config ssl upload --name APP --resource-group RG "
                "--certificate-file site.pfx --certificate-password PASSWORD",
            ),
            Step(
                "Bind it (App Service names certificates by SHA-1 thumbprint):",
                f"az webapp config ssl bind --name APP --resource-group RG "
                f"--certificate-thumbprint {leaf or 'THUMBPRINT'} --ssl-type SNI",
            ),
        ],
    )


def _cloudflare(c: _Chain, endpoint: EndpointReport) -> tuple[str, list[Step]]:
    return (
        _wrong_words(c) + "Behind Cloudflare's proxy, visitors get Cloudflare's edge certificate; "
        "the chain here is the edge's unless the record is DNS-only. Your origin's chain matters "
        "for Full (strict) mode and for DNS-only records.",
        [
            Step(
                "Custom edge certificate: upload it with the 'Compatible' (ubiquitous) bundle "
                "method so Cloudflare adds the most widely trusted chain "
                "(SSL/TLS → Edge Certificates → Upload Custom SSL Certificate)."
            ),
            Step(
                "Origin: serve the full chain from your web server (see that server's fix). A "
                "Cloudflare Origin CA certificate is trusted only by Cloudflare — never serve it to "
                "visitors directly."
            ),
            _common_files(c),
        ],
    )


_BUILDERS = {
    "iis": _iis,
    "nginx": _nginx,
    "apache": _apache,
    "haproxy": _haproxy,
    "caddy": _caddy,
    "traefik": _traefik,
    "java": _java,
    "kubernetes": _kubernetes,
    "aws": _aws,
    "azure": _azure,
    "cloudflare": _cloudflare,
}

__all__ = ["LABELS", "SERVERS", "ServerFix", "Step", "detect", "fix_for", "needs_fix", "sha1"]
