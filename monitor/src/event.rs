//! The one owned event type that flows through the pipeline, and its
//! Elastic Common Schema (ECS) JSON rendering.

/// The process that sent a query (and so received its answer), from the
/// kernel's socket-cookie attribution.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProcessInfo {
    /// Thread-group id (what users call the pid).
    pub pid: u32,
    /// The thread that made the call.
    pub tid: u32,
    pub uid: u32,
    /// `comm`, at most 15 bytes, as the kernel keeps it.
    pub name: String,
    pub cgroup_id: u64,
    /// Container id taken from the cgroup path (docker, containerd, cri-o, podman).
    pub container_id: Option<String>,
}
