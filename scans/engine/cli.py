"""The ``chainscan`` command: the same engine in-process, no database, no broker.

    chainscan scan HOST[:PORT] [--ip ADDRESS ...] [--json]
    chainscan check FILE [--host NAME] [--at ISO-8601] [--json]

Exit status: 0 no problems, 1 problems found (warnings or errors), 2 the scan
could not be done or the command line is wrong.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from .aia import DEFAULT_PORTS, HttpIssuerFetcher
from .analysis import AnalysisLimits, analyse
from .certs import BundleError, read_bundle
from .network import ProbeLimits
from .platforms import rows as platform_rows
from .policy import AddressPolicy, parse_ip
from .report import EndpointReport, Finding, Report, Severity
from .rootstores import dated_store
from .scan import ScanConfig, Seams, run_scan
from .targets import TargetError, normalise_hostname, parse_target
from .trust import TrustStore, load_trust_store, store_with_extra, store_words

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainscan",
        description="Diagnose TLS certificate chains: what a server sends, what it should "
        "send, and which clients break.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def trust_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--trust-store",
            choices=["mozilla", "system", "none"],
            default="mozilla",
            help="roots to trust (default: Mozilla's, from certifi)",
        )
        p.add_argument(
            "--ca-file",
            type=Path,
            help="extra trusted roots (PEM), e.g. your private CA; with --trust-store none, "
            "the only ones",
        )
        p.add_argument("--json", action="store_true", help="print the report as JSON")

    scan = sub.add_parser("scan", help="connect to a host and diagnose its chain")
    scan.add_argument("target", help="HOST, HOST:PORT or a URL")
    scan.add_argument(
        "--ip",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="connect to this address instead of resolving HOST (repeatable); HOST is still "
        "sent as SNI",
    )
    scan.add_argument(
        "--allow-private",
        action="store_true",
        help="allow loopback and private addresses (your own network), and issuer URLs there "
        "on any port",
    )
    scan.add_argument("--timeout", type=float, default=10.0, help="handshake timeout, seconds")
    scan.add_argument("--no-aia", action="store_true", help="do not fetch missing issuers")
    trust_options(scan)

    check = sub.add_parser("check", help="diagnose a chain from a file (PEM, DER or PKCS#7)")
    check.add_argument("file", type=Path, help="leaf first, then the rest as served; - for stdin")
    check.add_argument("--host", help="host name the leaf must cover")
    check.add_argument("--at", help="evaluate at this time (ISO 8601), e.g. 2027-01-01")
    check.add_argument("--no-aia", action="store_true", help="do not fetch missing issuers")
    check.add_argument(
        "--allow-private",
        action="store_true",
        help="allow issuer URLs on loopback and private addresses, on any port",
    )
    trust_options(check)
    return parser


def _trust(args: argparse.Namespace, at: dt.datetime | None = None) -> TrustStore:
    """The store asked for; with ``--at``, Mozilla's roots as they were at that date."""
    extra = None
    if args.ca_file is not None:
        try:
            extra = args.ca_file.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --ca-file {args.ca_file}: {exc.strerror}") from None
    try:
        if at is not None and args.trust_store == "mozilla":
            base = dated_store("mozilla", at)
            return store_with_extra(base, extra, str(args.ca_file)) if extra else base
        return load_trust_store(args.trust_store, extra_pem=extra, extra_label=str(args.ca_file))
    except (ValueError, BundleError) as exc:
        raise UsageError(f"--ca-file {args.ca_file}: {exc}") from None


def _parse_at(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is not an ISO 8601 date or time") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def cmd_scan(args: argparse.Namespace) -> Report:
    try:
        target = parse_target(args.target)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    for ip in args.ip:
        if parse_ip(ip) is None:
            raise UsageError(f"--ip {ip!r} is not an IP address")
    policy = AddressPolicy(allow_private=args.allow_private)
    config = ScanConfig(
        policy=policy,
        probe=ProbeLimits(
            connect_timeout=min(args.timeout, ProbeLimits.connect_timeout),
            handshake_timeout=args.timeout,
        ),
    )
    seams = Seams(fetcher=None if args.no_aia else _fetcher(args.allow_private))
    return run_scan(target, trust=_trust(args), config=config, seams=seams, pin=args.ip)


def _fetcher(allow_private: bool) -> HttpIssuerFetcher:
    """Issuer URLs: public addresses on ports 80/8080, or anywhere with --allow-private."""
    return HttpIssuerFetcher(
        AddressPolicy(allow_private=allow_private),
        allowed_ports=None if allow_private else DEFAULT_PORTS,
    )


def cmd_check(args: argparse.Namespace) -> Report:
    try:
        data = sys.stdin.buffer.read() if str(args.file) == "-" else args.file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    try:
        served = read_bundle(data)
    except BundleError as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    host = None
    if args.host:
        try:
            host = normalise_hostname(args.host)
        except TargetError as exc:
            raise UsageError(str(exc)) from None
    at = _parse_at(args.at)
    trust = _trust(args, at if args.at else None)
    fetcher = None if args.no_aia else _fetcher(args.allow_private)
    analysis = analyse(
        served, hostname=host, trust=trust, at=at, fetcher=fetcher, limits=AnalysisLimits()
    )
    endpoint = analysis.apply(EndpointReport(address=str(args.file), port=0, sni=host or ""))
    return Report(
        host=host or "",
        port=0,
        trust_store=trust.name,
        evaluated_at=at,
        endpoints=(endpoint,),
        verdict=endpoint.verdict,
    )


def exit_status(report: Report) -> int:
    if report.error:
        return EXIT_ERROR
    problems = [f for f in report.all_findings() if f.severity != Severity.INFO]
    return EXIT_PROBLEMS if problems else EXIT_OK


# --- Text output -------------------------------------------------------------

_WIDTH = 100


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, _WIDTH, initial_indent=indent, subsequent_indent=indent)


def _finding_text(f: Finding, indent: str) -> list[str]:
    lines = [f"{indent}[{f.severity.value.upper()}] {f.title} ({f.code})"]
    lines.append(_wrap(f.detail, indent + "    "))
    if f.fix:
        lines.append(_wrap("Fix: " + f.fix, indent + "    "))
    return lines


def _outcome_words(verdict: str, *, scanned: bool) -> str:
    """The one-word outcome; a scan that read no chain has no verdict on one."""
    return verdict if scanned else "could not scan"


def render_text(report: Report) -> str:
    head = report.host + (f":{report.port}" if report.port not in (0, 443) else "")
    scanned = not report.error or any(e.served for e in report.endpoints)
    outcome = _outcome_words(report.verdict.value, scanned=scanned).upper()
    lines = [
        f"chainscan report for {head or 'chain file'} — {outcome}",
        f"trust store: {store_words(report.trust_store)}; evaluated at {report.evaluated_at:%Y-%m-%d %H:%M:%S %Z}",
    ]
    if report.valid_until:
        lines.append(f"expected chain valid until {report.valid_until:%Y-%m-%d}")
    if report.error:
        lines.append(_wrap(f"The scan could not complete: {report.error}", ""))
    for f in report.findings:
        lines.extend(_finding_text(f, ""))
    for e in report.endpoints:
        lines.append("")
        where = e.address if e.port == 0 else f"{e.address}:{e.port}"
        sni = "" if e.sni is None else (f" (SNI {e.sni})" if e.sni else "")
        if e.sni is None:
            sni = " (without SNI)"
        outcome = _outcome_words(e.verdict.value, scanned=not (e.error and not e.served))
        lines.append(f"== {where}{sni} — {outcome}")
        if e.tls_version:
            lines.append(f"   {e.tls_version} {e.cipher}")
        if e.served:
            lines.append("   served:")
            for i, c in enumerate(e.served):
                lines.append(f"     {i}. {c.label}  [{c.short_fingerprint}]  issuer: {c.issuer}")
        if e.expected:
            lines.append("   should serve:")
            for i, c in enumerate(e.expected):
                lines.append(f"     {i}. {c.label}  [{c.short_fingerprint}]")
            if e.anchor:
                lines.append(f"     (root, not served: {e.anchor.label})")
        for f in e.findings:
            lines.extend(_finding_text(f, "   "))
        for verdict in e.clients:
            accepts = "accepts" if verdict.accepts else "REJECTS"
            lines.append(f"   {accepts}: {verdict.name} — {verdict.reason}")
        if e.platforms:
            lines.append("   who can connect:")
            for row in platform_rows(e.platforms):
                mark = "yes" if row.accepts else "NO "
                lines.append(_wrap(f"{mark}  {row.label}: {row.reason}", "     "))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        report = cmd_scan(args) if args.command == "scan" else cmd_check(args)
    except UsageError as exc:
        print(f"chainscan: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_text(report))
    return exit_status(report)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["main"]
