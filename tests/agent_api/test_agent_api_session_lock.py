from __future__ import annotations

import json
import threading

import boto3
import pytest

from agent_api.session_owner import LOCAL_OWNER
from agent_api.sessions import SessionBusyError, SessionStore, session_lock_key
from tests.support.clock import ManualClock

OWNER = LOCAL_OWNER


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(sessions_bucket: str, clock: ManualClock) -> SessionStore:
    return SessionStore(sessions_bucket, boto3.client("s3"), lock_ttl_seconds=100, clock=clock)


def test_a_free_session_is_acquired(store: SessionStore) -> None:
    lease = store.acquire("s1", OWNER)
    assert lease.lock_key == session_lock_key(OWNER, "s1")


def test_a_held_session_is_busy(store: SessionStore) -> None:
    store.acquire("s1", OWNER)
    with pytest.raises(SessionBusyError):
        store.acquire("s1", OWNER)


def lock_body(bucket: str, session_id: str) -> dict[str, object]:
    """The lock object as stored in the bucket."""
    key = session_lock_key(OWNER, session_id)
    return dict(json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def lock_exists(bucket: str, session_id: str) -> bool:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=session_lock_key(OWNER, session_id))
    return bool(listed.get("KeyCount"))


def test_sessions_are_locked_independently(store: SessionStore, sessions_bucket: str) -> None:
    first, second = store.acquire("s1", OWNER), store.acquire("s2", OWNER)
    assert (first.session_id, second.session_id) == ("s1", "s2")
    assert lock_exists(sessions_bucket, "s1")
    assert lock_exists(sessions_bucket, "s2")


def test_release_deletes_the_lock(store: SessionStore, sessions_bucket: str) -> None:
    store.acquire("s1", OWNER).release()
    assert not lock_exists(sessions_bucket, "s1")


def test_a_released_session_can_be_acquired_again(store: SessionStore, sessions_bucket: str) -> None:
    first = store.acquire("s1", OWNER)
    first.release()
    again = store.acquire("s1", OWNER)
    assert again.etag != first.etag
    assert lock_exists(sessions_bucket, "s1")


def test_an_expired_lock_is_taken_over(store: SessionStore, clock: ManualClock, sessions_bucket: str) -> None:
    stale = store.acquire("s1", OWNER)
    clock.now += 101
    taken = store.acquire("s1", OWNER)
    assert taken.etag != stale.etag
    assert lock_body(sessions_bucket, "s1")["expires_at"] == clock.now + 100


def test_an_unexpired_lock_is_not_taken_over(store: SessionStore, clock: ManualClock) -> None:
    store.acquire("s1", OWNER)
    clock.now += 99
    with pytest.raises(SessionBusyError):
        store.acquire("s1", OWNER)


def test_release_after_takeover_leaves_the_new_holders_lock(store: SessionStore, clock: ManualClock) -> None:
    stale = store.acquire("s1", OWNER)
    clock.now += 101
    store.acquire("s1", OWNER)
    store.release(stale)
    with pytest.raises(SessionBusyError):
        store.acquire("s1", OWNER)


def test_an_unreadable_lock_counts_as_expired(
    store: SessionStore, sessions_bucket: str, clock: ManualClock
) -> None:
    boto3.client("s3").put_object(Bucket=sessions_bucket, Key=session_lock_key(OWNER, "s1"), Body=b"not json")
    lease = store.acquire("s1", OWNER)
    assert lease.session_id == "s1"
    assert lock_body(sessions_bucket, "s1")["expires_at"] == clock.now + 100


def test_lock_records_its_expiry(store: SessionStore, sessions_bucket: str, clock: ManualClock) -> None:
    store.acquire("s1", OWNER)
    assert lock_body(sessions_bucket, "s1")["expires_at"] == clock.now + 100


def test_exactly_one_of_many_concurrent_acquirers_wins(sessions_bucket: str) -> None:
    # Separate stores model separate Lambda instances; the conditional put arbitrates in S3.
    stores = [SessionStore(sessions_bucket, boto3.client("s3")) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def contend(store: SessionStore) -> None:
        barrier.wait()
        try:
            store.acquire("shared", OWNER)
            outcomes.append("won")
        except SessionBusyError:
            outcomes.append("busy")

    threads = [threading.Thread(target=contend, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["busy"] * 7 + ["won"]
