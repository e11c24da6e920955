"""exec through the SDK: streams, options and failures as dockerd gives them."""

import socket

import pytest


@pytest.fixture
def box(client, busybox, name, cleanup):
    c = client.containers.run(busybox, ["sleep", "300"], name=name, detach=True)
    cleanup.append(("container", c.id))
    return c


def test_tty_exec_is_a_raw_stream(box):
    code, out = box.exec_run(["sh", "-c", "echo hello; echo oops >&2"], tty=True)
    assert code == 0
    # One terminal: both streams, CRLF line ends, no multiplexing headers.
    assert out == b"hello\r\noops\r\n"


def test_short_exec_delivers_both_streams(box):
    code, (out, err) = box.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
    assert (code, out, err) == (0, b"out\n", b"err\n")
    code, both = box.exec_run(["sh", "-c", "echo out; echo err >&2"])
    assert code == 0
    assert sorted(both.splitlines()) == [b"err", b"out"]
    chunks = list(box.exec_run(["sh", "-c", "echo a; echo b >&2"], stream=True, demux=True).output)
    outs = b"".join(o for o, _ in chunks if o)
    errs = b"".join(e for _, e in chunks if e)
    assert (outs, errs) == (b"a\n", b"b\n")


def test_user_env_and_workdir_apply(box):
    code, out = box.exec_run(
        ["sh", "-c", "id -u; echo $GREETING; pwd"],
        user="1234", environment={"GREETING": "hola"}, workdir="/tmp",
    )
    assert code == 0
    assert out.decode().split() == ["1234", "hola", "/tmp"]


def test_missing_binary_starts_and_reports_127(api, box):
    exec_id = api.exec_create(box.id, ["/no/such/binary"])["Id"]
    out = api.exec_start(exec_id)
    info = api.exec_inspect(exec_id)
    assert info["ExitCode"] == 127
    assert b"no such file or directory" in out.lower()


def test_exec_start_with_a_socket(api, box):
    exec_id = api.exec_create(box.id, ["cat"], stdin=True)["Id"]
    sock = api.exec_start(exec_id, socket=True)
    raw = sock._sock if hasattr(sock, "_sock") else sock
    raw.sendall(b"ping\n")
    raw.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = raw.recv(4096)
        if not chunk:
            break
        data += chunk
    # Multiplexed (no TTY): an 8-byte header, then the payload.
    assert data[0] == 1 and data[8:] == b"ping\n"
    sock.close()
