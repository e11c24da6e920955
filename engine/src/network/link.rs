//! Links, addresses and routes over rtnetlink: the bridge of each network and the veth pair of
//! each endpoint. No `ip` command: netlink is the kernel's own interface and reports errors
//! precisely.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use anyhow::{anyhow, Context};
use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth};

/// A netlink connection bound to one network namespace (clones share the connection).
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

fn is_errno(e: &rtnetlink::Error, errno: i32) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code() == -errno)
}

impl Netlink {
    /// A connection in berthd's own (the host's) namespace.
    pub fn host() -> anyhow::Result<Self> {
        let (conn, handle, _) = rtnetlink::new_connection().context("opening rtnetlink")?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// A connection inside the namespace pinned at `path`.
    pub fn in_netns(path: &Path) -> anyhow::Result<Self> {
        let rt = tokio::runtime::Handle::current();
        let (conn, handle) = super::netns::run_in(path, move || {
            // The socket is made (and bound to the namespace) here; tokio drives it later.
            let _g = rt.enter();
            let (conn, handle, _) = rtnetlink::new_connection().context("opening rtnetlink")?;
            Ok((conn, handle))
        })?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub async fn index_of(&self, name: &str) -> anyhow::Result<Option<u32>> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(m)) => Ok(Some(m.header.index)),
            Ok(None) => Ok(None),
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(None),
            Err(e) => Err(anyhow!("looking up link {name}: {e}")),
        }
    }

    async fn set(&self, msg: LinkMessage, what: &str) -> anyhow::Result<()> {
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| anyhow!("{what}: {e}"))
    }

    pub async fn up(&self, index: u32) -> anyhow::Result<()> {
        self.set(
            LinkUnspec::new_with_index(index).up().build(),
            "setting link up",
        )
        .await
    }

    /// Creates the bridge when missing, gives it `addr/prefix` when it lacks it, and brings it up.
    pub async fn ensure_bridge(
        &self,
        name: &str,
        addr: Ipv4Addr,
        prefix: u8,
    ) -> anyhow::Result<u32> {
        let index = match self.index_of(name).await? {
            Some(i) => i,
            None => {
                self.handle
                    .link()
                    .add(LinkBridge::new(name).build())
                    .execute()
                    .await
                    .map_err(|e| anyhow!("creating bridge {name}: {e}"))?;
                self.index_of(name)
                    .await?
                    .ok_or_else(|| anyhow!("bridge {name} vanished after creation"))?
            }
        };
        let have: Vec<IpAddr> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .map_ok(|m| {
                m.attributes.iter().find_map(|a| match a {
                    rtnetlink::packet_route::address::AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            })
            .try_filter_map(|x| async move { Ok(x) })
            .try_collect()
            .await
            .map_err(|e| anyhow!("reading addresses of {name}: {e}"))?;
        if !have.contains(&IpAddr::V4(addr)) {
            self.add_address(index, addr, prefix, name).await?;
        }
        self.up(index).await?;
        Ok(index)
    }

    /// Adds `addr/prefix` to a link; already there is fine.
    async fn add_address(
        &self,
        index: u32,
        addr: Ipv4Addr,
        prefix: u8,
        name: &str,
    ) -> anyhow::Result<()> {
        match self
            .handle
            .address()
            .add(index, IpAddr::V4(addr), prefix)
            .execute()
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_errno(&e, libc::EEXIST) => Ok(()),
            Err(e) => Err(anyhow!("adding {addr}/{prefix} to {name}: {e}")),
        }
    }

    /// Deletes a link by name; a missing one is fine (cleanup is idempotent).
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        let Some(index) = self.index_of(name).await? else {
            return Ok(());
        };
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(()),
            Err(e) => Err(anyhow!("deleting link {name}: {e}")),
        }
    }

    /// Creates a veth pair whose host end `host` joins bridge `bridge` and whose other end is
    /// created directly inside the namespace `netns_fd` as `peer` with MAC `mac`.
    pub async fn add_veth(
        &self,
        host: &str,
        bridge: u32,
        peer: &str,
        mac: [u8; 6],
        netns_fd: i32,
    ) -> anyhow::Result<()> {
        let peer_msg = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer.to_string())
            .address(mac.to_vec())
            .setns_by_fd(netns_fd)
            .build();
        let msg = LinkVeth::new(host, peer)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| anyhow!("creating veth pair {host}: {e}"))?;
        let index = self
            .index_of(host)
            .await?
            .ok_or_else(|| anyhow!("veth {host} vanished after creation"))?;
        self.set(
            LinkUnspec::new_with_index(index)
                .controller(bridge)
                .up()
                .build(),
            "attaching veth to bridge",
        )
        .await
    }

    /// Inside a container's namespace: address (and `--link-local-ip` ones as /32), link up,
    /// and (for the primary network) the default route; loopback up.
    pub async fn configure_endpoint(
        &self,
        ifname: &str,
        addr: Ipv4Addr,
        prefix: u8,
        link_local: &[Ipv4Addr],
        gateway: Option<Ipv4Addr>,
    ) -> anyhow::Result<()> {
        if let Some(lo) = self.index_of("lo").await? {
            self.up(lo).await?;
        }
        let index = self
            .index_of(ifname)
            .await?
            .ok_or_else(|| anyhow!("{ifname} is missing in the container's namespace"))?;
        self.add_address(index, addr, prefix, ifname).await?;
        for ll in link_local {
            self.add_address(index, *ll, 32, ifname).await?;
        }
        self.up(index).await?;
        if let Some(gw) = gateway {
            let route = rtnetlink::RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .build();
            match self.handle.route().add(route).execute().await {
                Ok(()) => {}
                Err(e) if is_errno(&e, libc::EEXIST) => {}
                Err(e) => return Err(anyhow!("adding default route via {gw}: {e}")),
            }
        }
        Ok(())
    }

    /// Names of the links whose controller is `bridge` (the endpoints plugged into it).
    pub async fn ports_of(&self, bridge: u32) -> anyhow::Result<Vec<String>> {
        let links: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| anyhow!("listing links: {e}"))?;
        Ok(links
            .into_iter()
            .filter(|m| {
                m.attributes
                    .iter()
                    .any(|a| matches!(a, LinkAttribute::Controller(c) if *c == bridge))
            })
            .filter_map(|m| {
                m.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n),
                    _ => None,
                })
            })
            .collect())
    }
}

/// Writes a per-interface IPv4 sysctl (e.g. `route_localnet`), as the `sysctl` tool would.
pub fn set_ipv4_conf(ifname: &str, key: &str, value: &str) -> anyhow::Result<()> {
    let p = format!("/proc/sys/net/ipv4/conf/{ifname}/{key}");
    std::fs::write(&p, value).with_context(|| format!("writing {p}"))
}

/// Lets the kernel route between the bridges and the host's interfaces.
pub fn enable_ip_forward() -> anyhow::Result<()> {
    let p = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(p)
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
    {
        return Ok(());
    }
    std::fs::write(p, "1").with_context(|| format!("writing {p}"))
}
