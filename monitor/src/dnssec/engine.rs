//! The engine's entry point.
