"""Fixtures for the docker-py tests. tests/tests/docker_py.rs starts a real berthd and the test
registry, then runs pytest with DOCKER_HOST and BERTH_TEST_REGISTRY pointing at them."""

import os
import time
import uuid

import docker
import pytest


@pytest.fixture(scope="session")
def client():
    c = docker.from_env(timeout=120)
    yield c
    c.close()


@pytest.fixture(scope="session")
def api(client):
    return client.api


@pytest.fixture(scope="session")
def busybox(client):
    """The registry's busybox image, pulled once."""
    ref = f"{os.environ['BERTH_TEST_REGISTRY']}/busybox:latest"
    client.images.pull(ref)
    return ref


@pytest.fixture
def name():
    """A container or network name unique to the test."""
    return f"py-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def cleanup(client):
    """Containers and networks a test registers here are removed afterwards, whatever happened."""
    made = []
    yield made
    for kind, ident in reversed(made):
        try:
            if kind == "container":
                client.api.remove_container(ident, force=True, v=True)
            elif kind == "network":
                client.api.remove_network(ident)
        except docker.errors.NotFound:
            pass


def wait_for(probe, what, timeout=60):
    """Polls `probe` until it returns something true and returns it; fails after `timeout` s.
    A bounded wait for a state, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        seen = probe()
        if seen:
            return seen
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.05)
