"""Log drivers as the SDK sets them (HostConfig.LogConfig)."""

import docker
import pytest
from docker.types import LogConfig


def wait_exit(c):
    assert c.wait(timeout=60)["StatusCode"] == 0


def test_none_keeps_no_log(client, busybox, name, cleanup):
    c = client.containers.run(
        busybox, ["echo", "hi"], name=name, detach=True,
        log_config=LogConfig(type=LogConfig.types.NONE),
    )
    cleanup.append(("container", c.id))
    wait_exit(c)
    with pytest.raises(docker.errors.APIError) as e:
        c.logs()
    assert e.value.status_code == 501
    assert "configured logging driver does not support reading" in str(e.value)
    assert c.attrs["HostConfig"]["LogConfig"]["Type"] == "none"


def test_json_file_rotation_keeps_the_newest_lines(client, busybox, name, cleanup):
    c = client.containers.run(
        busybox,
        ["sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done"],
        name=name, detach=True,
        log_config=LogConfig(type="json-file", config={"max-size": "2k", "max-file": "2"}),
    )
    cleanup.append(("container", c.id))
    wait_exit(c)
    lines = c.logs().decode().splitlines()
    # Two files of ~2 kB of ~80-byte json lines: far fewer than 400, ending with the last line.
    assert lines[-1] == "line-399"
    assert 20 < len(lines) < 400
    numbers = [int(l.split("-")[1]) for l in lines]
    assert numbers == list(range(numbers[0], 400))
    assert c.logs(tail=3).decode().splitlines() == ["line-397", "line-398", "line-399"]


def test_local_driver_reads_back(client, busybox, name, cleanup):
    c = client.containers.run(
        busybox, ["sh", "-c", "echo out; echo err >&2"], name=name, detach=True,
        log_config=LogConfig(type="local"),
    )
    cleanup.append(("container", c.id))
    wait_exit(c)
    assert c.logs(stdout=True, stderr=False) == b"out\n"
    assert c.logs(stdout=False, stderr=True) == b"err\n"


@pytest.mark.parametrize(
    "config,message",
    [
        (LogConfig(type="syslog"), "logger: no log driver named 'syslog' is registered"),
        (LogConfig(type="json-file", config={"max-bytes": "1"}),
         "unknown log opt 'max-bytes' for json-file log driver"),
        (LogConfig(type="local", config={"tag": "x"}), "unknown log opt 'tag' for local log driver"),
        (LogConfig(type="json-file", config={"max-size": "1k", "max-file": "0"}),
         "max-file cannot be less than 1"),
    ],
)
def test_bad_log_configs_are_refused(client, busybox, config, message):
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.create(busybox, ["true"], log_config=config)
    assert e.value.status_code == 400
    assert message in str(e.value)
