"""Fixtures of the web tests: ``site`` (an agency whose people can log in) and ``login``
live in the root conftest.py, shared with tests/test_audit_coverage.py."""

from witness.testing.factories import PASSWORD  # noqa: F401 - imported by the web tests
