"""The body-read deadline's watchdog: one thread per process cuts off reads whose deadline passed.

The whole middleware under real gunicorn with slow senders is tests/faults/test_slow_clients.py;
these check the watchdog's rules on a socket pair, with deadlines already past or far away.
"""
import socket
import time

from bridge.web.body_deadline import Watchdog, watchdog


def wait_until(predicate, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_a_read_past_its_deadline_is_cut_off_and_says_so():
    dog = Watchdog(tick=0.01)
    reader, writer = socket.socketpair()
    with reader, writer:
        watch = dog.watch(reader, time.monotonic() - 1)
        assert wait_until(lambda: watch.expired)
        reader.settimeout(5)
        assert reader.recv(10) == b""  # the reading side is shut: a blocked recv returns at once
        assert watch.cancel() is True


def test_a_read_that_ends_in_time_is_left_alone():
    dog = Watchdog(tick=0.01)
    reader, writer = socket.socketpair()
    with reader, writer:
        late = dog.watch(reader, time.monotonic() + 0.05)
        assert late.cancel() is False
        expired_other = dog.watch(socket.socket(), time.monotonic() - 1)  # keeps the thread scanning
        assert wait_until(lambda: expired_other.expired)
        expired_other.sock.close()
        writer.sendall(b"body")
        reader.settimeout(5)
        assert reader.recv(10) == b"body"
        assert not late.expired


def test_the_watchdog_sleeps_when_idle_and_wakes_for_the_next_read():
    dog = Watchdog(tick=0.01)
    first, second = socket.socketpair()
    with first, second:
        dog.watch(first, time.monotonic() + 60).cancel()
        assert wait_until(lambda: dog._idle)  # nothing watched: asleep, not ticking
        watch = dog.watch(second, time.monotonic() - 1)
        assert wait_until(lambda: watch.expired)


def test_one_watchdog_per_process():
    assert watchdog() is watchdog()
