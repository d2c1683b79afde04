"""Guessing passwords gets slower and slower; a receptionist's typos and an office
behind one address do not lock anybody out."""

from __future__ import annotations

from switchboard_ui.login_throttle import (
    FREE_FAILURES_PER_SOURCE,
    FREE_FAILURES_PER_USER,
    MAX_KEYS,
    MAX_LOCK_S,
    LoginThrottle,
    source_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_few_typos_cost_nothing() -> None:
    throttle = LoginThrottle(Clock())
    for _ in range(FREE_FAILURES_PER_USER):
        assert throttle.failed("sanne", "192.0.2.1") == []
    assert throttle.retry_after("sanne", "192.0.2.1") == 0


def test_each_failure_past_the_free_ones_doubles_the_wait() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES_PER_USER):
        throttle.failed("sanne", "192.0.2.1")
    waits = []
    for _ in range(4):
        (lockout,) = throttle.failed("sanne", "192.0.2.1")
        assert lockout.kind == "user" and lockout.key == "sanne"
        waits.append(throttle.retry_after("sanne", "192.0.2.1"))
        clock.now += waits[-1]
        assert throttle.retry_after("sanne", "192.0.2.1") == 0
    assert waits == [1, 2, 4, 8]


def test_the_wait_is_capped() -> None:
    throttle = LoginThrottle(Clock())
    for _ in range(FREE_FAILURES_PER_USER + 40):
        throttle.failed("sanne", "192.0.2.1")
    assert throttle.retry_after("sanne", "192.0.2.1") == MAX_LOCK_S


def test_a_locked_user_is_locked_from_every_address() -> None:
    throttle = LoginThrottle(Clock())
    for i in range(FREE_FAILURES_PER_USER + 1):
        throttle.failed("sanne", f"192.0.2.{i}")
    assert throttle.retry_after("sanne", "198.51.100.7") >= 1
    assert throttle.retry_after("joris", "198.51.100.7") == 0


def test_one_address_guessing_many_names_is_locked() -> None:
    throttle = LoginThrottle(Clock())
    for i in range(FREE_FAILURES_PER_SOURCE + 1):
        throttle.failed(f"user{i}", "192.0.2.9")
    assert throttle.retry_after("somebody-else", "192.0.2.9") >= 1
    assert throttle.retry_after("somebody-else", "192.0.2.10") == 0


def test_an_ipv6_host_cannot_dodge_by_changing_address_within_its_64() -> None:
    throttle = LoginThrottle(Clock())
    for i in range(FREE_FAILURES_PER_SOURCE + 1):
        throttle.failed(f"user{i}", f"2001:db8:1:2::{i:x}")
    assert throttle.retry_after("x", "2001:db8:1:2:ffff::1") >= 1
    assert source_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_the_right_password_resets_the_users_count_but_not_the_addresss() -> None:
    throttle = LoginThrottle(Clock())
    for _ in range(FREE_FAILURES_PER_USER):
        throttle.failed("sanne", "192.0.2.1")
    throttle.succeeded("sanne")
    for _ in range(FREE_FAILURES_PER_USER):
        assert throttle.failed("sanne", "192.0.2.1") == []
    # The address has now failed twice the user's allowance: its own count went on.
    for _ in range(FREE_FAILURES_PER_SOURCE - 2 * FREE_FAILURES_PER_USER):
        throttle.failed("other", "192.0.2.1")
        throttle.succeeded("other")
    assert [lock.kind for lock in throttle.failed("third", "192.0.2.1")] == ["source"]


def test_an_hour_without_failures_forgets() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES_PER_USER + 3):
        throttle.failed("sanne", "192.0.2.1")
    clock.now += 3601
    assert throttle.failed("sanne", "192.0.2.1") == []


def test_memory_stays_bounded_when_every_try_is_a_new_name() -> None:
    throttle = LoginThrottle(Clock())
    for i in range(MAX_KEYS + 500):
        throttle.failed(f"name{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle._records) <= MAX_KEYS
