"""Swarm mode as a standalone dockerd answers it: berthd is never part of a swarm."""

import docker
import pytest


def test_info_reports_no_swarm(client):
    assert client.info()["Swarm"]["LocalNodeState"] == "inactive"


def test_forced_leave_is_accepted_as_dockerd_answers_it(client):
    # The SDK accepts only dockerd's 503 here (clean-up code calls this unconditionally).
    assert client.swarm.leave(force=True) is True


def test_leave_without_force_says_not_part_of_a_swarm(client):
    with pytest.raises(docker.errors.APIError) as e:
        client.swarm.leave()
    assert e.value.status_code == 503
    assert "not part of a swarm" in str(e.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.services.list(),
        lambda c: c.nodes.list(),
        lambda c: c.secrets.list(),
        lambda c: c.configs.list(),
        lambda c: c.api.tasks(),
        lambda c: c.api.inspect_swarm(),
    ],
)
def test_manager_routes_say_not_a_manager(client, call):
    with pytest.raises(docker.errors.APIError) as e:
        call(client)
    assert e.value.status_code == 503
    assert "not a swarm manager" in str(e.value)
