"""attach as the SDK and scripts use it: log replay, stream=0, detach keys."""

import socket

import pytest

from conftest import wait_for


def recv_all(sock, until=None, limit=60):
    """Reads until EOF (or until `until` is in the data); no fixed sleep, a deadline only."""
    sock.settimeout(limit)
    data = b""
    while until is None or until not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def raw(sock):
    return sock._sock if hasattr(sock, "_sock") else sock


def test_logs_replay_then_stream_zero_returns_at_once(client, api, busybox, name, cleanup):
    c = client.containers.run(busybox, ["sh", "-c", "echo first; echo second; sleep 300"],
                              name=name, detach=True, tty=True)
    cleanup.append(("container", c.id))
    # Wait for the output through logs, then attach with logs=1, stream=0: the log, then EOF,
    # while the container keeps running.
    wait_for(lambda: b"second" in c.logs(), "the container's output in its log")
    out = api.attach(c.id, stdout=True, stderr=True, stream=False, logs=True)
    assert out.replace(b"\r", b"") == b"first\nsecond\n"
    c.reload()
    assert c.status == "running"


def test_no_logs_no_stream_returns_nothing(client, api, busybox, name, cleanup):
    c = client.containers.run(busybox, ["sh", "-c", "echo hi; sleep 300"], name=name,
                              detach=True, tty=True)
    cleanup.append(("container", c.id))
    assert api.attach(c.id, stream=False, logs=False) == b""


@pytest.mark.parametrize("keys,sequence", [(None, b"\x10\x11"), ("ctrl-x,y", b"\x18y")])
def test_detach_keys_leave_the_container_running(client, api, busybox, name, cleanup, keys,
                                                 sequence):
    c = client.containers.run(busybox, ["cat"], name=name, detach=True, tty=True,
                              stdin_open=True)
    cleanup.append(("container", c.id))
    params = {"stdin": 1, "stdout": 1, "stream": 1}
    if keys:
        params["detachKeys"] = keys
    sock = api.attach_socket(c.id, params=params)
    s = raw(sock)
    s.sendall(b"hello\n")
    assert b"hello" in recv_all(s, until=b"hello")
    s.sendall(sequence)
    # The engine ends the stream: EOF without the client closing anything.
    recv_all(s)
    sock.close()
    c.reload()
    assert c.status == "running"
