"""Shared by the test suites of every service: free ports, service processes, signing keys, a
TCP proxy that injects network faults, and the addresses of the stack the tests run against
(fixtures of a pytest plugin)."""
