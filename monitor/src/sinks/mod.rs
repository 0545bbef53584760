//! Where events and alerts go.
