//! Berth's engine in a Linux VM: what runs the engine on macOS and Windows (and optionally on
//! Linux). The host talks to the guest over one virtio-serial port carrying multiplexed streams.
//!
//! - [`mux`]: yamux sessions over that port; [`header`]: what each stream is for.
//! - [`agent`] (guest): connects each stream to the guest engine's socket or a guest port.
//! - [`forwarder`] (host): the host engine socket; [`ports`]: published ports followed from
//!   the guest engine's events; [`engine_api`]: the few API calls that takes.
//!   [`udp`]: published UDP ports' datagram flows.
//! - [`qemu`]: QEMU's command line, the acceleration probe, the data disk; [`vm`]: one VM's
//!   lifecycle and state; [`vport`]: the guest's end of the port.

pub mod agent;
pub mod engine_api;
pub mod forwarder;
pub mod header;
pub mod mux;
pub mod ports;
pub mod qemu;
pub mod udp;
pub mod vm;
pub mod vport;

pub use vm::{Vm, VmConfig, VmError, VmPaths, VmState};
