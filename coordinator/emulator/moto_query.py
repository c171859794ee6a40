"""moto's DynamoDB Query, scoped to the partition it names.

moto answers a table Query (no index) by walking every item of the table and keeping those of
the queried partition (``Table.query``: ``[item for item in self.all_items() if item.hash_key ==
hash_key]``), then sorting them. The Round task polls its round's completion records every 50 ms
and the table holds every round's records of every job, so a poll's cost grows with the run:
at 256 workers it dominated an emulated round. DynamoDB itself reads one partition; here the
query sees only its partition (``Table.items[hash_key]``), the same items in the same order.

moto then deep-copies every matching item (``results = copy.deepcopy(results)``) before it
filters, projects or counts them: 15% of a 256-worker replay's CPU time went there (py-spy),
most of it for ``Select=COUNT`` polls that return no item at all. The copy guards against a
write changing an item while the response is built; here none can, so the scoped query hands
moto's module a ``copy`` whose ``deepcopy`` makes a shallow list. Projection builds new items and
the response only reads ``item.attrs`` into JSON, so nothing downstream mutates what it gets.
It also sizes every item twice (the 1 MB page limit, ``Item.size`` walking every attribute):
within one scoped query an item's size is computed once.

Safe because every moto request runs under ``moto_lock.LOCK``: the instance attribute that
scopes ``all_items`` and the module attribute that skips the copy exist only while this
thread's query runs, and no other request changes an item until its response is built.
"""

from __future__ import annotations

import copy
import threading
from types import SimpleNamespace

_installed = False
_NO_COPY = SimpleNamespace(deepcopy=list)
_sizes: dict[int, int] | None = None  # id(item) -> size, only while a scoped query runs
_guard = threading.Lock()


def install() -> None:
    """Scope moto's plain table Query to its partition (idempotent)."""
    global _installed
    with _guard:
        if _installed:
            return
        from moto.dynamodb.models import table as table_module
        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table

        query, size = Table.query, Item.size

        def sized_once(item):
            if _sizes is None:
                return size(item)
            known = _sizes.get(id(item))
            if known is None:
                known = _sizes[id(item)] = size(item)
            return known

        def scoped(self, hash_key, *args, **kwargs):
            if kwargs.get("index_name") or len(args) >= 7 and args[6] or not self.range_key_attr:
                return query(self, hash_key, *args, **kwargs)
            global _sizes
            partition = self.items.get(hash_key, {})
            self.all_items = lambda: list(partition.values())
            table_module.copy, _sizes = _NO_COPY, {}
            try:
                return query(self, hash_key, *args, **kwargs)
            finally:
                table_module.copy, _sizes = copy, None
                del self.all_items

        Table.query, Item.size = scoped, sized_once
        _installed = True
