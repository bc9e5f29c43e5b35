"""What does a host of tarpit issuer URLs cost one scan?

Run: ``.venv/bin/python bench/bench_aia_budget.py [addresses] [urls] [per_scan_cap]``
(defaults 16, 8, 8: the case of issue 9, item 2)

Every address (127.0.0.2…) serves its own leaf whose issuer is not served and
whose ``urls`` AIA URLs all lead to a server that accepts and never answers.
The scan uses the production defaults: 30 s scan deadline, 5 s per issuer
fetch, 4 fetches per analysis, ``per_scan_cap`` fetches per scan. Prints the
wall-clock time, the fetches made and the scan's budget finding; asserts nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scans.engine.aia import HttpIssuerFetcher
from scans.engine.network import StaticResolver
from scans.engine.policy import AddressPolicy
from scans.engine.scan import ScanConfig, Seams, run_scan
from scans.engine.targets import Target
from scans.engine.trust import empty_store
from tests.httpserver import Tarpit, tarpit_host

HOST = "tarpit.bench.test"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    urls = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    cap = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    open_policy = AddressPolicy(allow_private=True)
    with Tarpit() as tarpit:
        servers = tarpit_host(tarpit, HOST, count=count, urls=urls)
        try:
            started = time.monotonic()
            report = run_scan(
                Target(HOST, servers[0].port),
                trust=empty_store(),
                config=ScanConfig(policy=open_policy, max_aia_fetches=cap),
                seams=Seams(
                    resolver=StaticResolver({HOST: [s.address for s in servers]}),
                    fetcher=HttpIssuerFetcher(open_policy, allowed_ports=None),
                ),
            )
            elapsed = time.monotonic() - started
        finally:
            for server in servers:
                server.stop()
        fetches = tarpit.connections
    budget = any("AIA budget was used up" in f.detail for e in report.endpoints for f in e.findings)
    print(f"{count} addresses × {urls} tarpit AIA URLs, per-scan cap {cap}:")
    print(f"  {elapsed:.1f} s wall clock, {fetches} fetches, {len(report.endpoints)} endpoints")
    print(f"  budget finding present: {budget}; report error: {report.error}")


if __name__ == "__main__":
    main()
