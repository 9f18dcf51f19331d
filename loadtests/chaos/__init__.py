"""Faults under steady traffic, judged by a consistency checker (docs/reliability.md "Faults").

Clients on every gateway keep a journal of what they sent, what was acknowledged and what they
received (``journal``); faults are injected one after another while they talk (``faults``); after
each one, ``checker`` holds the journals against what Postgres stored and names every breach of
the guarantees (docs/architecture.md, G1 to G4, and the fold of edits, deletes and reactions).

Run the long version with ``make chaos``; ``tests/chaos`` runs a short one in ``make test``.
"""
