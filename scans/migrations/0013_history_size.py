"""History that stays small, second step: an unchanged rescan costs one scan row.

- Endpoints belong to an endpoint set shared by every scan whose endpoints are
  the same (address, port, SNI, TLS version, cipher, Server header, outcome);
  a scan points at its set and keeps its own timings as compact text.
  Existing scans are folded: each scan's endpoints become a set (or point at
  the identical set an earlier scan already has), timings move to the scan.
- The change digests are stored as 32 bytes instead of 64 hex characters.
- The permalink token keeps one unique index (the LIKE-pattern index Postgres
  adds for ``unique=True`` on a CharField served no query).

Reversible: backwards, every scan gets its own endpoint rows back with its timings.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import django.db.models.deletion
from django.db import migrations, models

import scans.models

BATCH = 500
DIGESTS = ("served_digest", "expected_digest", "findings_digest")


def _checks_now(schema_editor) -> None:  # type: ignore[no-untyped-def]
    """Postgres refuses to ALTER a table with foreign-key checks still pending from
    rows written in the same transaction: run them as each row is written."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


# --- digests: hex text → 32 bytes ------------------------------------------------------------


def digests_to_bytes(apps, schema_editor):  # type: ignore[no-untyped-def]
    _checks_now(schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        sets = ", ".join(
            f"{name}_bin = CASE WHEN {name} ~ '^[0-9a-f]{{64}}$' THEN decode({name}, 'hex') "
            f"ELSE ''::bytea END"
            for name in DIGESTS
        )
        schema_editor.execute(f"UPDATE scans_scan SET {sets}")
        return
    Scan = apps.get_model("scans", "Scan")
    _convert(Scan, lambda text: _from_hex(text), DIGESTS, suffix_from="", suffix_to="_bin")


def digests_to_hex(apps, schema_editor):  # type: ignore[no-untyped-def]
    _checks_now(schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        sets = ", ".join(f"{name} = encode({name}_bin, 'hex')" for name in DIGESTS)
        schema_editor.execute(f"UPDATE scans_scan SET {sets}")
        return
    Scan = apps.get_model("scans", "Scan")
    _convert(Scan, lambda raw: bytes(raw or b"").hex(), DIGESTS, suffix_from="_bin", suffix_to="")


def _from_hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text) if len(text) == 64 else b""
    except ValueError:
        return b""


def _convert(Scan, convert, names, *, suffix_from: str, suffix_to: str) -> None:  # type: ignore[no-untyped-def]
    last = 0
    while True:
        rows = list(Scan.objects.filter(pk__gt=last).order_by("pk")[:BATCH])
        if not rows:
            return
        last = rows[-1].pk
        for row in rows:
            for name in names:
                setattr(row, name + suffix_to, convert(getattr(row, name + suffix_from)))
        Scan.objects.bulk_update(rows, [name + suffix_to for name in names])


# --- endpoints: per scan → shared sets ---------------------------------------------------------


def _set_digest(endpoints) -> bytes:  # type: ignore[no-untyped-def]
    """services.endpoint_set_digest as of this migration (so rescans find these sets)."""
    content = [
        [
            e.address,
            e.port,
            None if e.no_sni else e.sni,
            e.tls_version,
            e.cipher,
            e.server,
            e.outcome.digest,
        ]
        for e in endpoints
    ]
    return hashlib.sha256(json.dumps(content).encode()).digest()


def _timings_text(endpoints) -> str:  # type: ignore[no-untyped-def]
    """models.timings_text as of this migration."""
    return ";".join(
        ",".join("" if v is None else repr(v) for v in (e.connect_ms, e.handshake_ms))
        for e in endpoints
    )


def _timings_parse(text: str) -> list[tuple[float | None, float | None]]:
    out = []
    for item in text.split(";") if text else ():
        connect, _, handshake = item.partition(",")
        out.append((float(connect) if connect else None, float(handshake) if handshake else None))
    return out


def endpoints_to_sets(apps, schema_editor):  # type: ignore[no-untyped-def]
    _checks_now(schema_editor)
    Scan = apps.get_model("scans", "Scan")
    Endpoint = apps.get_model("scans", "Endpoint")
    EndpointSet = apps.get_model("scans", "EndpointSet")
    known: dict[bytes, int] = {}
    last = 0
    while True:
        ids = list(Scan.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            return
        last = ids[-1]
        by_scan = defaultdict(list)
        for ep in (
            Endpoint.objects.filter(scan_id__in=ids)
            .select_related("outcome")
            .order_by("scan_id", "position")
        ):
            by_scan[ep.scan_id].append(ep)
        kept, dropped, scans = [], [], []
        for scan_id in ids:
            endpoints = by_scan.get(scan_id)
            if not endpoints:
                continue
            digest = _set_digest(endpoints)
            set_id = known.get(digest)
            if set_id is None:
                # The first scan with these endpoints lends its rows to the set.
                set_id = known[digest] = EndpointSet.objects.create(digest=digest).pk
                for position, ep in enumerate(endpoints):
                    ep.endpoint_set_id, ep.position = set_id, position
                    kept.append(ep)
            else:
                dropped += [ep.pk for ep in endpoints]
            scans.append(Scan(pk=scan_id, endpoint_set_id=set_id, timings=_timings_text(endpoints)))
        Endpoint.objects.bulk_update(kept, ["endpoint_set", "position"])
        Endpoint.objects.filter(pk__in=dropped).delete()
        Scan.objects.bulk_update(scans, ["endpoint_set", "timings"])


def sets_to_endpoints(apps, schema_editor):  # type: ignore[no-untyped-def]
    _checks_now(schema_editor)
    Scan = apps.get_model("scans", "Scan")
    Endpoint = apps.get_model("scans", "Endpoint")
    last = 0
    while True:
        scans = list(
            Scan.objects.filter(pk__gt=last, endpoint_set__isnull=False)
            .order_by("pk")
            .only("pk", "endpoint_set_id", "timings")[:BATCH]
        )
        if not scans:
            break
        last = scans[-1].pk
        by_set = defaultdict(list)
        for ep in Endpoint.objects.filter(
            endpoint_set_id__in={s.endpoint_set_id for s in scans}, scan__isnull=True
        ).order_by("endpoint_set_id", "position"):
            by_set[ep.endpoint_set_id].append(ep)
        copies = []
        for scan in scans:
            timings = _timings_parse(scan.timings)
            for i, ep in enumerate(by_set[scan.endpoint_set_id]):
                connect, handshake = timings[i] if i < len(timings) else (None, None)
                copies.append(
                    Endpoint(
                        scan_id=scan.pk,
                        position=ep.position,
                        address=ep.address,
                        port=ep.port,
                        sni=ep.sni,
                        no_sni=ep.no_sni,
                        tls_version=ep.tls_version,
                        cipher=ep.cipher,
                        connect_ms=connect,
                        handshake_ms=handshake,
                        outcome_id=ep.outcome_id,
                        server=ep.server,
                    )
                )
        Endpoint.objects.bulk_create(copies)
    # The set's own rows (no scan): every scan has its copies now.
    Endpoint.objects.filter(scan__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0012_api_tokens"),
    ]

    operations = [
        # Digests as bytes: new columns, converted, then in the old ones' place.
        *(
            migrations.AddField(
                model_name="scan",
                name=f"{name}_bin",
                field=scans.models.DigestField(blank=True, default=b"", max_length=32),
            )
            for name in DIGESTS
        ),
        migrations.RunPython(digests_to_bytes, digests_to_hex),
        *(migrations.RemoveField(model_name="scan", name=name) for name in DIGESTS),
        *(
            migrations.RenameField(model_name="scan", old_name=f"{name}_bin", new_name=name)
            for name in DIGESTS
        ),
        # Endpoint sets.
        migrations.CreateModel(
            name="EndpointSet",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", scans.models.DigestField(max_length=32, unique=True)),
            ],
        ),
        migrations.AddField(
            model_name="scan",
            name="endpoint_set",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="scans",
                to="scans.endpointset",
            ),
        ),
        migrations.AddField(
            model_name="scan",
            name="timings",
            field=models.TextField(blank=True, default=""),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="endpoint",
            name="endpoint_set",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="endpoints",
                to="scans.endpointset",
            ),
        ),
        migrations.AlterField(
            model_name="endpoint",
            name="scan",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="endpoints",
                to="scans.scan",
            ),
        ),
        migrations.RunPython(endpoints_to_sets, sets_to_endpoints),
        migrations.RemoveConstraint(model_name="endpoint", name="endpoint_position"),
        migrations.RemoveField(model_name="endpoint", name="scan"),
        migrations.RemoveField(model_name="endpoint", name="connect_ms"),
        migrations.RemoveField(model_name="endpoint", name="handshake_ms"),
        migrations.AlterField(
            model_name="endpoint",
            name="endpoint_set",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="endpoints",
                to="scans.endpointset",
            ),
        ),
        migrations.AddConstraint(
            model_name="endpoint",
            constraint=models.UniqueConstraint(
                fields=("endpoint_set", "position"), name="endpoint_set_position"
            ),
        ),
        # One unique index on the token, without the unused LIKE-pattern one.
        migrations.AlterField(
            model_name="scan",
            name="token",
            field=models.CharField(default=scans.models.new_token, editable=False, max_length=64),
        ),
        migrations.AddConstraint(
            model_name="scan",
            constraint=models.UniqueConstraint(fields=("token",), name="scan_token_unique"),
        ),
    ]
