"""moto's DynamoDB Query, scoped to the partition it names.

moto answers a table Query (no index) by walking every item of the table and keeping those of
the queried partition (``Table.query``: ``[item for item in self.all_items() if item.hash_key ==
hash_key]``), then sorting them. The Round task polls its round's completion records every 50 ms
and the table holds every round's records of every job, so a poll's cost grows with the run:
at 256 workers it dominated an emulated round. DynamoDB itself reads one partition; here the
query sees only its partition (``Table.items[hash_key]``), the same items in the same order.

Safe because every moto request runs under ``moto_lock.LOCK``: the instance attribute that
scopes ``all_items`` exists only while this thread's query runs.
"""

from __future__ import annotations

import threading

_installed = False
_guard = threading.Lock()


def install() -> None:
    """Scope moto's plain table Query to its partition (idempotent)."""
    global _installed
    with _guard:
        if _installed:
            return
        from moto.dynamodb.models.table import Table

        query = Table.query

        def scoped(self, hash_key, *args, **kwargs):
            if kwargs.get("index_name") or len(args) >= 7 and args[6] or not self.range_key_attr:
                return query(self, hash_key, *args, **kwargs)
            partition = self.items.get(hash_key, {})
            self.all_items = lambda: list(partition.values())
            try:
                return query(self, hash_key, *args, **kwargs)
            finally:
                del self.all_items

        Table.query = scoped
        _installed = True
