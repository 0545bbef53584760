//! Unit tests for the parent module (filled in as the module is completed).
