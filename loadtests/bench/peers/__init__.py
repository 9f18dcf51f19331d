"""The peers' server programs, each run as its own process by the benchmark."""
