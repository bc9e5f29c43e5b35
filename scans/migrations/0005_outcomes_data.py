"""Shared endpoint outcomes (data, step 2 of 3): every existing endpoint gets one.

Each endpoint's chains, findings, anchor, clients and verdict become an
outcome keyed by a digest of those values; endpoints that found exactly the
same share one, and their duplicate chain entries and findings are deleted.
Roles are left empty: reports.py derives them for chains recorded before the
engine reported roles. Every existing scan stays readable, page for page.

Going back does not copy outcomes back to endpoints: 0005's reverse re-adds
the per-endpoint columns as NOT NULL, which only an empty database (the
migration test) accepts.
"""

import hashlib
import json

from django.db import migrations

BATCH = 500


def _digest(endpoint, entries, findings) -> str:
    # "v0": a namespace of its own, so no live digest (services.outcome_digest)
    # can collide with a migrated one.
    content = {
        "v0": True,
        "verdict": endpoint.verdict,
        "error": endpoint.error,
        "valid_until": endpoint.valid_until.isoformat() if endpoint.valid_until else None,
        "anchor": endpoint.anchor_id,
        "anchor_source": endpoint.anchor_source,
        "clients": endpoint.clients,
        "chain": [(e.kind, e.position, e.certificate_id) for e in entries],
        "findings": [
            (f.code, f.severity, f.title, f.detail, f.fix, f.certificates, f.clients)
            for f in findings
        ],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def forward(apps, schema_editor):
    Endpoint = apps.get_model("scans", "Endpoint")
    ChainEntry = apps.get_model("scans", "ChainEntry")
    Finding = apps.get_model("scans", "Finding")
    Outcome = apps.get_model("scans", "Outcome")
    # Every outcome is made here, so the digests seen so far are all there is.
    known: dict[str, int] = {}
    last = 0
    while True:
        batch = list(Endpoint.objects.filter(pk__gt=last).order_by("pk")[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        ids = [e.pk for e in batch]
        entries: dict[int, list] = {}
        for entry in ChainEntry.objects.filter(endpoint_id__in=ids).order_by("kind", "position"):
            entries.setdefault(entry.endpoint_id, []).append(entry)
        findings: dict[int, list] = {}
        for finding in Finding.objects.filter(endpoint_id__in=ids).order_by("position"):
            findings.setdefault(finding.endpoint_id, []).append(finding)
        copies: list[int] = []  # chain entries of endpoints whose outcome exists already
        copied_findings: list[int] = []
        moved: list = []
        for endpoint in batch:
            mine, found = entries.get(endpoint.pk, []), findings.get(endpoint.pk, [])
            digest = _digest(endpoint, mine, found)
            if digest in known:
                copies.extend(e.pk for e in mine)
                copied_findings.extend(f.pk for f in found)
            else:
                outcome = Outcome.objects.create(
                    digest=digest,
                    verdict=endpoint.verdict,
                    error=endpoint.error,
                    valid_until=endpoint.valid_until,
                    anchor_id=endpoint.anchor_id,
                    anchor_source=endpoint.anchor_source,
                    clients=endpoint.clients,
                )
                known[digest] = outcome.pk
                for entry in mine:
                    entry.outcome_id = outcome.pk
                moved.extend(mine)
                for position, finding in enumerate(found):
                    finding.outcome_id, finding.scan_id = outcome.pk, None
                    finding.position = position
                Finding.objects.bulk_update(found, ["outcome", "scan", "position"])
            endpoint.outcome_id = known[digest]
        ChainEntry.objects.bulk_update(moved, ["outcome"])
        ChainEntry.objects.filter(pk__in=copies).delete()
        Finding.objects.filter(pk__in=copied_findings).delete()
        Endpoint.objects.bulk_update(batch, ["outcome"])


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0004_outcomes"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop, elidable=False),
    ]
