"""The fan-out benchmark: this chat and the servers people would pick instead, measured side by
side in one session on one machine with the same client and the same load. Run it with
`make bench` (short) or `make bench-full` (docs/benchmarks.md)."""
