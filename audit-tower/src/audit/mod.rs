//! The audit middleware: [`AuditLayer`], [`AuditService`], their future and bodies.

mod body;
mod future;
mod layer;
mod recorder;
mod request;
mod service;

pub use body::{RequestBody, ResponseBody};
pub use future::ResponseFuture;
pub use layer::AuditLayer;
pub use service::AuditService;
