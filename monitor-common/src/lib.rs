//! Types shared by the kernel programs (`monitor-ebpf`) and the agent
//! (`monitor`). Everything here is `#[repr(C)]`, `Copy`, and free of
//! implicit padding so both sides agree on the layout byte for byte.
#![no_std]
