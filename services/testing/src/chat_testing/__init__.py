"""Shared by the test suites of every service: free ports, service processes, signing keys and
the addresses of the stack the tests run against (fixtures of a pytest plugin)."""
