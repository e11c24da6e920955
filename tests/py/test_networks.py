"""Networks as the SDK creates them."""

import docker
from docker.types import IPAMConfig, IPAMPool


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
