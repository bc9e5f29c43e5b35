"""The chainscan engine: everything that turns a host name or a chain into a report.

No Django here (a test checks it): target parsing, resolution and address
policy, TLS probing, path building and findings, trust stores, issuer
fetching, diffs, and the report data classes with their JSON form. The CLI,
the Celery worker and the tests all call it.
"""
