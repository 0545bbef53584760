//! The one owned event type that flows through the pipeline, and its
//! Elastic Common Schema (ECS) JSON rendering.
