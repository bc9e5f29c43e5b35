import pytest
from tests import factories as f
from scans.engine.diff import diff_reports, diff_to_json
from scans.reports import report_from_scan, scans_with_report_data
from scans.models import Scan

pytestmark = pytest.mark.django_db

def test_proto(alice):
    c = f.chains()
    r1 = f.engine_report({"192.0.2.10": c.served_x1()})
    for e in r1.endpoints:
        print(e.key, e.verdict, [x.label for x in e.served], [x.label for x in e.expected], [x.code for x in e.findings])
    print([x.code for x in r1.findings], r1.verdict, r1.error)
    s1 = f.record_scan(c.served_x1(), user=alice)
    s2 = f.record_scan(c.served_x3(), user=alice)
    s3 = f.record_scan([c.renewed_leaf, c.x3], user=alice)
    for s in (s1, s2, s3):
        print(s.status, s.verdict, s.change, s.change_summary)
    full = scans_with_report_data(Scan.objects.filter(pk=s2.pk)).get()
    a = report_from_scan(full).to_json()
    b = f.engine_report({"192.0.2.10": c.served_x3()}).to_json()
    for k in a:
        if a[k] != b[k]:
            print("DIFF", k)
