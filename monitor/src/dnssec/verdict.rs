//! The outcome of validation. A caller cannot reach validated data without
//! matching on the verdict.
