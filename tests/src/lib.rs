//! Interop tests live in `tests/`; this crate holds the generated test protocol.
#![allow(missing_docs)]

/// The test protocol, compiled from `proto/interop.proto`.
pub mod proto {
    tonic::include_proto!("interop");
}
