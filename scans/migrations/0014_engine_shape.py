"""Stored texts name the trust store in words, as the engine now writes them.

Until now the engine wrote a store's technical name into its prose ("not in
the 'mozilla+file corp.pem' trust store") and the report page rewrote it to
"the trust store". The engine now writes the store in words itself
("not in the Mozilla trust store plus your anchors (corp.pem)"), so the page
no longer rewrites anything; this gives findings, client verdicts and checks
stored before the change the same words. Only the store's name changes.
"""

import re

from django.db import migrations

# The four ways the engine used to name a store: "the 'X' trust store", "the
# trust store 'X'", "the 'X' store", and "(checked at …, trust store 'X')".
_NAMED = re.compile(
    r"the '(?P<a>[^']+)' trust store|the trust store '(?P<b>[^']+)'"
    r"|the '(?P<c>[^']+)' store|, trust store '(?P<d>[^']+)'"
)


def in_words(text):
    from scans.engine.trust import store_phrase

    def phrase(match):
        name = match.group("a") or match.group("b") or match.group("c")
        if name:
            return store_phrase(name)
        return " against " + store_phrase(match.group("d"))

    return _NAMED.sub(phrase, text) if text and "'" in text else text


def _finding(data):
    return {**data, "detail": in_words(data.get("detail", "")), "fix": in_words(data.get("fix", ""))}


def _clients(items):
    return [{**c, "reason": in_words(c.get("reason", ""))} for c in items]


def _bulk(model, rows, fields):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 500:
            model.objects.bulk_update(batch, fields)
            batch = []
    model.objects.bulk_update(batch, fields)


def store_in_words(apps, schema_editor):
    Finding = apps.get_model("scans", "Finding")
    Outcome = apps.get_model("scans", "Outcome")
    CheckResult = apps.get_model("scans", "CheckResult")

    def findings():
        for row in Finding.objects.only("id", "detail", "fix").iterator(chunk_size=500):
            detail, fix = in_words(row.detail), in_words(row.fix)
            if (detail, fix) != (row.detail, row.fix):
                row.detail, row.fix = detail, fix
                yield row

    def outcomes():
        for row in Outcome.objects.only("id", "clients").iterator(chunk_size=500):
            clients = _clients(row.clients or [])
            if clients != row.clients:
                row.clients = clients
                yield row

    def checks():
        for row in CheckResult.objects.only("id", "report").iterator(chunk_size=100):
            report = dict(row.report)
            report["findings"] = [_finding(f) for f in report.get("findings", [])]
            report["endpoints"] = [
                {
                    **e,
                    "findings": [_finding(f) for f in e.get("findings", [])],
                    "clients": _clients(e.get("clients", [])),
                }
                for e in report.get("endpoints", [])
            ]
            if report != row.report:
                row.report = report
                yield row

    _bulk(Finding, findings(), ["detail", "fix"])
    _bulk(Outcome, outcomes(), ["clients"])
    _bulk(CheckResult, checks(), ["report"])


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0013_history_size"),
    ]

    operations = [
        migrations.RunPython(store_in_words, migrations.RunPython.noop, elidable=True),
    ]
