"""moto's DynamoDB TransactWriteItems, backed up item by item instead of table by table.

To undo a transaction whose item fails, moto deep-copies every table the transaction names,
once per item (``DynamoDBBackend.transact_write_items``), and puts the copies back on failure.
sgcflow's table holds every completion record of every round of every job, and the Round task
commits each round with a transaction (``Store.commit_round``): every commit copied all of them,
so an emulated round cost more the longer the run went (a 256-worker replay of 30 gradients:
3 minutes, most of it ``DynamoType.__deepcopy__``). DynamoDB itself touches only the named items.

Here the backup holds exactly the items the transaction names, as they were (or their absence),
and a failed transaction puts those back: the same outcome, at the cost of the items written.
moto still runs its own transaction code; only what its ``copy.deepcopy(table)`` returns and
what its ``self.tables[name] = backup`` does are ours, and only inside the call. (A rolled-back
write stays in a table's stream, which the emulated stack does not have.)

Safe because every moto request runs under ``moto_lock.LOCK``.
"""

from __future__ import annotations

import copy
import sys
import threading
from typing import Any

_installed = False
_guard = threading.Lock()


class _Backup:
    """A table's named items as they were before the transaction (None: absent)."""

    def __init__(self, table, keys: list[tuple[Any, Any]]):
        self.table = table
        self.items = [(h, r, copy.deepcopy(_get(table, h, r))) for h, r in keys]

    def restore(self) -> None:
        items = self.table.items
        for h, r, old in self.items:
            if r is None:
                if old is None:
                    items.pop(h, None)
                else:
                    items[h] = old
            elif old is None:
                items.get(h, {}).pop(r, None)
            else:
                items[h][r] = old


def _get(table, h, r):
    if r is None:
        return table.items.get(h)
    return table.items.get(h, {}).get(r)


def _named_keys(backend, transact_items: list[dict]) -> dict[str, list[tuple[Any, Any]]]:
    """{table name: [(hash, range or None)]} of every item the transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    out: dict[str, list[tuple[Any, Any]]] = {}
    for entry in transact_items:
        if len(entry) != 1:
            continue  # moto refuses it before writing anything
        (op_type, op), = entry.items()
        table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        attrs = op.get("Item" if op_type == "Put" else "Key") if table is not None else None
        if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
            continue  # moto answers a validation error before writing anything
        h = DynamoType(attrs[table.hash_key_attr])
        r = (DynamoType(attrs[table.range_key_attr])
             if table.range_key_attr and table.range_key_attr in attrs else None)
        out.setdefault(op["TableName"], []).append((h, r))
    return out


class _Tables(dict):
    """The backend's tables during a transaction: assigning a backup restores it in place."""

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, _Backup):
            value.restore()
        else:
            super().__setitem__(name, value)


def install() -> None:
    """Back moto's TransactWriteItems up by the items it names (idempotent)."""
    global _installed
    with _guard:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table

        module = sys.modules[DynamoDBBackend.__module__]
        transact = DynamoDBBackend.transact_write_items
        backups: dict[int, _Backup] = {}

        class _Copy:
            """The ``copy`` moto's backend module sees: a table inside a transaction is backed
            up by its named items; everything else is copied as before."""

            def __getattr__(self, name: str) -> Any:
                return getattr(copy, name)

            @staticmethod
            def deepcopy(value: Any, memo: Any = None) -> Any:
                if isinstance(value, Table) and id(value) in backups:
                    return backups[id(value)]
                return copy.deepcopy(value, memo)

        def transact_write_items(self, transact_items):
            tables = self.tables
            for name, keys in _named_keys(self, transact_items).items():
                backups[id(tables[name])] = _Backup(tables[name], keys)
            self.tables = _Tables(tables)
            try:
                return transact(self, transact_items)
            finally:
                self.tables = tables
                backups.clear()

        module.copy = _Copy()
        DynamoDBBackend.transact_write_items = transact_write_items
        _installed = True
