"""moto's requests run one at a time (issue 26: a DynamoDB Query walked the table while worker
threads put items into it: "dictionary changed size during iteration")."""

from __future__ import annotations

import threading

import boto3
from moto import mock_aws
from timeouts import scaled, wait_for

from coordinator.emulator import moto_lock
from coordinator.emulator.moto_lock import MotoLock


def test_the_lock_is_reentrant_and_a_holder_can_step_out_of_it():
    lock = MotoLock()
    inside = threading.Event()
    with lock, lock:
        assert lock.held_by_me()
        other = threading.Thread(target=lambda: (lock.acquire(), inside.set(), lock.release()))
        with lock.suspended():  # a handler running inside a moto request
            assert not lock.held_by_me()
            other.start()
            assert inside.wait(scaled(10))  # another thread got in meanwhile
            other.join(scaled(10))
        assert lock.held_by_me()
    assert not lock.held_by_me()
    with lock.suspended():  # not held: nothing to release
        assert not lock.held_by_me()


def test_a_moto_request_waits_for_the_lock_and_then_goes_through(monkeypatch):
    """Every moto request takes the lock: one made while another holds it (the Round task's
    Query walking the table) waits, instead of changing moto's dicts under the walker."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    moto_lock.install()
    with mock_aws():
        ddb = boto3.session.Session().client("dynamodb")
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        worker = boto3.session.Session().client("dynamodb")
        done = threading.Event()

        def put() -> None:
            worker.put_item(TableName="t", Item={"pk": {"S": "round#1"}, "sk": {"S": "w1"}})
            done.set()

        with moto_lock.LOCK:  # as moto does while it answers a request
            thread = threading.Thread(target=put)
            thread.start()
            wait_for(lambda: len(moto_lock.LOCK._waiters) == 1, 30, "the put to queue up")
            assert not done.is_set()
        assert done.wait(scaled(30))
        thread.join(scaled(30))
        assert ddb.query(TableName="t", KeyConditionExpression="pk = :p", Select="COUNT",
                         ExpressionAttributeValues={":p": {"S": "round#1"}})["Count"] == 1


def test_waiters_get_the_lock_in_the_order_they_came():
    """A thread that releases and asks again queues behind the waiters (no starved puts)."""
    lock, order = MotoLock(), []
    lock.acquire()
    threads = []
    for name in ("first", "second", "third"):
        thread = threading.Thread(target=lambda n=name: (lock.acquire(), order.append(n),
                                                         lock.release()))
        thread.start()
        threads.append(thread)
        queued = len(threads)
        wait_for(lambda n=queued: len(lock._waiters) == n, 30, f"{name} to queue up")
    lock.release()
    lock.acquire()  # the releaser asks again: it comes last
    order.append("releaser")
    lock.release()
    for thread in threads:
        thread.join(scaled(30))
    assert order == ["first", "second", "third", "releaser"]
