"""Issue 13 part 4: clients that send their bodies slowly cannot starve genuine webhooks.

Real gunicorn, one process with two threads, and four "slowloris" clients that announce
a 1 KB body and send it a byte every half second. Before the body-read deadline they
held both threads for as long as they liked, and genuine webhooks timed out.
"""
from __future__ import annotations

import select
import socket
import threading
import time
from urllib.parse import urlsplit

from tests.faults.conftest import new_id, review


def slow_client(url: str, stop: threading.Event, answers: list) -> None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=40) as sock:
            sock.sendall((f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                          "Content-Length: 1000\r\n\r\n").encode())
            for _ in range(1000):
                if stop.is_set():
                    break
                sock.sendall(b" ")
                # A byte every half second, but stop sending as soon as the server answers:
                # writing on after its 408 and close meets a broken pipe, which would hide the
                # 408 waiting to be read (that happened whenever the machine was busy).
                if select.select([sock], [], [], 0.5)[0]:
                    break
            sock.settimeout(5)
            answers.append(sock.recv(200).decode(errors="replace"))
    except OSError as exc:
        answers.append(f"closed: {type(exc).__name__}")


def test_slow_senders_get_408_and_genuine_webhooks_still_get_through(make_stack):
    stack = make_stack(worker=False, WEB_CONCURRENCY="1", GUNICORN_THREADS="2", BRIDGE_BODY_READ_SECONDS="2")
    stop, answers = threading.Event(), []
    slow = [threading.Thread(target=slow_client, args=(stack.webhook_url, stop, answers), daemon=True)
            for _ in range(4)]
    for thread in slow:
        thread.start()
    time.sleep(0.5)  # let them take the threads first
    try:
        codes = [stack.post(review(new_id("rev")), timeout=15) for _ in range(4)]
    finally:
        stop.set()
        for thread in slow:
            thread.join(10)
    assert codes == [202] * 4, f"genuine webhooks answered {codes}; slow clients got {answers}"
    assert answers and all("408" in answer or answer.startswith("closed") for answer in answers), answers
    assert sum(1 for answer in answers if "408" in answer) >= 1, answers
    assert stack.statuses().get("pending", 0) == 4  # the slow bodies stored nothing
