"""Networks as the SDK creates them."""

import docker
from docker.types import IPAMConfig, IPAMPool

from conftest import wait_for


def test_ipam_pools_with_unset_fields(client, name, cleanup):
    # The SDK sends every pool field; unset ones (IPRange, Gateway, AuxiliaryAddresses) as null.
    ipam = IPAMConfig(pool_configs=[IPAMPool(subnet="10.231.7.0/24")])
    net = client.networks.create(name, driver="bridge", ipam=ipam)
    cleanup.append(("network", net.id))
    net.reload()
    config = net.attrs["IPAM"]["Config"]
    assert config[0]["Subnet"] == "10.231.7.0/24"
    assert config[0]["Gateway"] == "10.231.7.1"


def test_a_name_with_a_space_is_accepted(client, name, cleanup):
    spaced = f"{name} with space"
    net = client.networks.create(spaced)
    cleanup.append(("network", net.id))
    assert client.networks.get(net.id).name == spaced
    assert [n.id for n in client.networks.list(names=[spaced])] == [net.id]


def test_connecting_from_the_default_bridge_resolves_the_new_networks_names(
        client, busybox, name, cleanup):
    net = client.networks.create(name)
    cleanup.append(("network", net.id))
    server = client.containers.run(
        busybox, ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && httpd -f -p 80 -h /www"],
        name=f"{name}-web", detach=True, network=name)
    cleanup.append(("container", server.id))
    box = client.containers.run(busybox, ["sleep", "300"], name=f"{name}-box", detach=True)
    cleanup.append(("container", box.id))
    net.connect(box)
    code, resolv = box.exec_run(["cat", "/etc/resolv.conf"])
    assert b"nameserver 127.0.0.11" in resolv, resolv
    # httpd may take a moment to listen: poll for the page on a deadline.
    def fetch():
        code, out = box.exec_run(["wget", "-qO-", f"http://{name}-web/"])
        return out if code == 0 else None
    assert wait_for(fetch, "the page through the new network's DNS") == b"hello\n"
