//! The per-container monitor process (conmon / containerd-shim style).
