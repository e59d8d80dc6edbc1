//! gRPC status in an entry: the code, its name and message as the server sent them in
//! `grpc-status`/`grpc-message`, and the outcome each code implies.

use serde::{Deserialize, Serialize};

use super::Outcome;

/// The gRPC status of a call (the entry's `grpc` field), beside its HTTP status, which gRPC
/// leaves at 200 for almost every failure.
///
/// ```
/// use audit_core::{GrpcStatus, Outcome};
///
/// let status = GrpcStatus::new(5, Some("no such feature".into()));
/// assert_eq!(status.status, "NOT_FOUND");
/// assert_eq!(status.outcome(), Outcome::ClientError);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GrpcStatus {
    /// The numeric code (`grpc-status`): 0 is `OK`.
    pub code: u32,
    /// The message (`grpc-message`, percent-decoded), if the server sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The code's name (`NOT_FOUND`), or `CODE_<n>` for a code gRPC does not define.
    pub status: String,
}

/// The names of gRPC's status codes, by code.
const NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

impl GrpcStatus {
    /// `DEADLINE_EXCEEDED`, the code of a call that ran past its `grpc-timeout`.
    pub const DEADLINE_EXCEEDED: u32 = 4;
    /// `INTERNAL`, the code of a handler panic.
    pub const INTERNAL: u32 = 13;

    /// The status with code `code`, named after it.
    pub fn new(code: u32, message: Option<String>) -> Self {
        let status = usize::try_from(code)
            .ok()
            .and_then(|i| NAMES.get(i))
            .map_or_else(|| format!("CODE_{code}"), |name| (*name).to_owned());
        GrpcStatus {
            code,
            message,
            status,
        }
    }

    /// Whether the call succeeded (`OK`).
    pub fn is_ok(&self) -> bool {
        self.code == 0
    }

    /// The outcome the code implies, following the HTTP mapping gRPC gateways use
    /// (`INVALID_ARGUMENT` → 400, `NOT_FOUND` → 404, `UNAVAILABLE` → 503 …): `client_error`
    /// for codes a client causes, `server_error` for the rest, `cancelled` for `CANCELLED`.
    pub fn outcome(&self) -> Outcome {
        match self.code {
            0 => Outcome::Success,
            1 => Outcome::Cancelled,
            // INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED
            // (429), FAILED_PRECONDITION, ABORTED (409), OUT_OF_RANGE, UNAUTHENTICATED.
            3 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 16 => Outcome::ClientError,
            // UNKNOWN, DEADLINE_EXCEEDED (504), UNIMPLEMENTED (501), INTERNAL, UNAVAILABLE,
            // DATA_LOSS, and codes gRPC does not define.
            _ => Outcome::ServerError,
        }
    }

    /// The text for the entry's `error`: `NOT_FOUND: no such feature`; `None` for `OK`.
    pub fn error_text(&self) -> Option<String> {
        if self.is_ok() {
            return None;
        }
        Some(match &self.message {
            Some(message) if !message.is_empty() => format!("{}: {message}", self.status),
            _ => self.status.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_and_mapped() {
        assert_eq!(GrpcStatus::new(0, None).outcome(), Outcome::Success);
        assert_eq!(GrpcStatus::new(0, None).error_text(), None);
        assert_eq!(GrpcStatus::new(1, None).outcome(), Outcome::Cancelled);
        for code in [3, 5, 6, 7, 8, 9, 10, 11, 16] {
            assert_eq!(
                GrpcStatus::new(code, None).outcome(),
                Outcome::ClientError,
                "{code}"
            );
        }
        for code in [2, 4, 12, 13, 14, 15, 99] {
            assert_eq!(
                GrpcStatus::new(code, None).outcome(),
                Outcome::ServerError,
                "{code}"
            );
        }
        assert_eq!(GrpcStatus::new(16, None).status, "UNAUTHENTICATED");
        assert_eq!(GrpcStatus::new(99, None).status, "CODE_99");
        assert_eq!(
            GrpcStatus::new(7, Some("no".into()))
                .error_text()
                .as_deref(),
            Some("PERMISSION_DENIED: no")
        );
    }
}
