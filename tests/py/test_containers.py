"""Container lifecycle through the SDK, as scripts drive it."""

import docker
import pytest


def test_kill_returns_once_the_container_has_stopped(client, busybox, name, cleanup):
    c = client.containers.run(busybox, ["sleep", "300"], name=name, detach=True)
    cleanup.append(("container", c.id))
    c.kill()
    # No wait in between: dockerd answers a SIGKILL only once the container is gone.
    c.reload()
    assert c.status == "exited"
    assert c.attrs["State"]["ExitCode"] == 137
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_kill_with_another_signal_does_not_wait(client, busybox, name, cleanup):
    # A signal the process may handle: answered at once, the container keeps running.
    c = client.containers.run(
        busybox, ["sh", "-c", "trap '' USR1; sleep 300"], name=name, detach=True
    )
    cleanup.append(("container", c.id))
    c.kill(signal="SIGUSR1")
    c.reload()
    assert c.status == "running"


def test_runtime_is_recorded_and_unknown_ones_refused(client, api, busybox, name, cleanup):
    c = client.containers.create(busybox, ["true"], name=name)
    cleanup.append(("container", c.id))
    default = client.info()["DefaultRuntime"]
    assert c.attrs["HostConfig"]["Runtime"] == default
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.create(busybox, ["true"], runtime="no-such-runtime")
    assert e.value.status_code == 400
    assert "unknown or invalid runtime name: no-such-runtime" in str(e.value)


def test_a_container_with_a_restart_policy_needs_force_to_go(client, busybox, name, cleanup):
    c = client.containers.run(busybox, ["sleep", "300"], name=name, detach=True,
                              restart_policy={"Name": "always"})
    cleanup.append(("container", c.id))
    with pytest.raises(docker.errors.APIError) as e:
        c.remove()
    assert e.value.status_code == 409
    assert "container is running" in str(e.value)
    c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_group_add_takes_ids_and_names(client, busybox, name, cleanup):
    out = client.containers.run(busybox, ["id", "-G"], name=name, group_add=["users", "4242"])
    cleanup.append(("container", name))
    assert sorted(out.decode().split()) == ["0", "100", "4242"]
    c = client.containers.get(name)
    assert c.attrs["HostConfig"]["GroupAdd"] == ["users", "4242"]
    # Execs get them too.
    box = client.containers.run(busybox, ["sleep", "300"], detach=True, group_add=["4242"])
    cleanup.append(("container", box.id))
    code, out = box.exec_run(["id", "-G"])
    assert (code, sorted(out.decode().split())) == (0, ["0", "4242"])
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.run(busybox, ["true"], group_add=["no-such-group"], remove=True)
    assert "Unable to find group no-such-group" in str(e.value)
