//! The fault kinds and the error a caller sees when one is injected.

use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use crate::engine::plan::RuleHandle;

/// The kind of an injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FaultKind {
    /// The call was held back for a while, then went on.
    Delay,
    /// The call was answered with an error instead of running.
    Abort,
    /// The call failed as a connection error would, without an answer.
    Error,
    /// The call hung, then failed as a timeout.
    Timeout,
    /// The call failed as unreachable (a network partition).
    Partition,
    /// The call was never sent; it hung until a timeout, then failed.
    Loss,
}

impl FaultKind {
    /// The lowercase name used in tracing events and status.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Delay => "delay",
            FaultKind::Abort => "abort",
            FaultKind::Error => "error",
            FaultKind::Timeout => "timeout",
            FaultKind::Partition => "partition",
            FaultKind::Loss => "loss",
        }
    }

    /// The HTTP status and gRPC code a door that must answer uses for a
    /// fault of this kind (aborts use their configured ones): 503 and
    /// `UNAVAILABLE` for errors and partitions, 504 and `DEADLINE_EXCEEDED`
    /// for timeouts and losses.
    pub fn default_answer(self) -> (StatusCode, GrpcCode) {
        match self {
            FaultKind::Timeout | FaultKind::Loss => (StatusCode::GATEWAY_TIMEOUT, GrpcCode::DeadlineExceeded),
            _ => (StatusCode::SERVICE_UNAVAILABLE, GrpcCode::Unavailable),
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of a call that mischief failed on purpose (an abort, error,
/// timeout, partition or loss).
///
/// The service layer returns it boxed (downcast the `BoxError` to find it);
/// the client middleware returns it inside
/// `reqwest_middleware::Error::Middleware`. It says which rule fired, the
/// kind of fault, and what it would answer over HTTP and gRPC.
///
/// ```
/// # fn handle(err: Box<dyn std::error::Error + Send + Sync>) {
/// if let Some(fault) = err.downcast_ref::<mischief::InjectedFault>() {
///     eprintln!("rule {} injected {}", fault.rule(), fault.kind());
/// }
/// # }
/// ```
///
/// To test your own handling of one (a `From<InjectedFault>` for your
/// error type, say), take it from an engine whose rule always fails:
///
/// ```
/// use mischief::config::{Config, ErrorFault, Rule};
/// use mischief::{Chaos, Door, FaultKind, Target};
///
/// let chaos = Chaos::new(Config::new().rule(Rule::new("down").error(ErrorFault::percentage(100.0)))).unwrap();
/// let fault = chaos.decide(&Target::new(Door::Service)).fault().expect("every call fails");
/// assert_eq!((fault.rule(), fault.kind()), ("down", FaultKind::Error));
/// ```
#[derive(Clone)]
pub struct InjectedFault {
    /// The rule (for its name and messages), by the handle of the stripe
    /// of the thread that decided the fault: cloning or dropping a fault
    /// writes a reference count no other thread's faults write.
    rule: Arc<RuleHandle>,
    kind: FaultKind,
    status: StatusCode,
    grpc: GrpcCode,
    /// Which of the rule's failures, for its message.
    failure: Option<usize>,
}

impl InjectedFault {
    pub(crate) fn new(
        rule: Arc<RuleHandle>,
        kind: FaultKind,
        status: StatusCode,
        grpc: GrpcCode,
        failure: Option<usize>,
    ) -> Self {
        Self { rule, kind, status, grpc, failure }
    }

    /// The name of the rule that injected the fault.
    pub fn rule(&self) -> &str {
        &self.rule.name
    }

    /// What was injected.
    pub fn kind(&self) -> FaultKind {
        self.kind
    }

    /// The HTTP status an HTTP door answers with (the configured one for an
    /// abort; see [`FaultKind::default_answer`] for the other kinds).
    pub fn http_status(&self) -> StatusCode {
        self.status
    }

    /// The gRPC code a gRPC door answers with.
    pub fn grpc_code(&self) -> GrpcCode {
        self.grpc
    }

    /// The configured message, if any.
    pub fn message(&self) -> Option<&str> {
        self.rule.failures.get(self.failure?)?.message.as_deref()
    }
}

impl PartialEq for InjectedFault {
    /// Faults are equal when they say the same: rule name, kind, answers
    /// and message.
    fn eq(&self, other: &Self) -> bool {
        self.rule() == other.rule()
            && self.kind == other.kind
            && self.status == other.status
            && self.grpc == other.grpc
            && self.message() == other.message()
    }
}

impl Eq for InjectedFault {}

impl fmt::Debug for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InjectedFault")
            .field("rule", &self.rule())
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("grpc", &self.grpc)
            .field("message", &self.message())
            .finish()
    }
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chaos: {} injected by rule `{}`", self.kind, self.rule())?;
        if let Some(m) = self.message() {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InjectedFault {}

/// An I/O error carrying the fault (get it back with
/// [`get_ref`](std::io::Error::get_ref) and `downcast_ref`), so functions
/// that return `io::Result` can be fault points. The error kind follows the
/// fault: `TimedOut` for timeouts and losses, `HostUnreachable` for
/// partitions, `ConnectionReset` for errors, `Other` for aborts.
///
/// ```
/// # use mischief::config::{Config, ErrorFault, Rule};
/// # use mischief::{Chaos, Door, Target};
/// # let chaos = Chaos::new(Config::new().rule(Rule::new("down").error(ErrorFault::percentage(100.0)))).unwrap();
/// # let fault = || chaos.decide(&Target::new(Door::Service)).fault().unwrap();
/// let err = std::io::Error::from(fault());
/// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
/// let fault: &mischief::InjectedFault = err.get_ref().and_then(|e| e.downcast_ref()).expect("the fault");
/// assert_eq!(fault.rule(), "down");
/// ```
impl From<InjectedFault> for std::io::Error {
    fn from(fault: InjectedFault) -> Self {
        use std::io::ErrorKind;
        let kind = match fault.kind {
            FaultKind::Timeout | FaultKind::Loss => ErrorKind::TimedOut,
            FaultKind::Partition => ErrorKind::HostUnreachable,
            FaultKind::Error => ErrorKind::ConnectionReset,
            _ => ErrorKind::Other,
        };
        std::io::Error::new(kind, fault)
    }
}

macro_rules! grpc_codes {
    ($($variant:ident = $num:literal, $name:literal;)*) => {
        /// A gRPC status code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum GrpcCode {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($num), ")")]
                $variant = $num,
            )*
        }

        impl GrpcCode {
            /// The code for a number, if it is one of `0..=16`.
            pub fn from_i64(n: i64) -> Option<Self> {
                match n {
                    $($num => Some(GrpcCode::$variant),)*
                    _ => None,
                }
            }

            /// The canonical name, e.g. `UNAVAILABLE`.
            pub fn name(self) -> &'static str {
                match self {
                    $(GrpcCode::$variant => $name,)*
                }
            }

            /// The code for a name: `UNAVAILABLE`, `unavailable`,
            /// `Unavailable` and `DEADLINE_EXCEEDED`/`DeadlineExceeded` all work.
            pub fn from_name(name: &str) -> Option<Self> {
                let norm = |s: &str| -> String {
                    s.chars().filter(|c| *c != '_').map(|c| c.to_ascii_lowercase()).collect()
                };
                let wanted = norm(name.trim());
                [$(GrpcCode::$variant),*].into_iter().find(|c| norm(c.name()) == wanted)
            }
        }
    };
}

grpc_codes! {
    Ok = 0, "OK";
    Cancelled = 1, "CANCELLED";
    Unknown = 2, "UNKNOWN";
    InvalidArgument = 3, "INVALID_ARGUMENT";
    DeadlineExceeded = 4, "DEADLINE_EXCEEDED";
    NotFound = 5, "NOT_FOUND";
    AlreadyExists = 6, "ALREADY_EXISTS";
    PermissionDenied = 7, "PERMISSION_DENIED";
    ResourceExhausted = 8, "RESOURCE_EXHAUSTED";
    FailedPrecondition = 9, "FAILED_PRECONDITION";
    Aborted = 10, "ABORTED";
    OutOfRange = 11, "OUT_OF_RANGE";
    Unimplemented = 12, "UNIMPLEMENTED";
    Internal = 13, "INTERNAL";
    Unavailable = 14, "UNAVAILABLE";
    DataLoss = 15, "DATA_LOSS";
    Unauthenticated = 16, "UNAUTHENTICATED";
}

impl GrpcCode {
    /// The numeric value sent in `grpc-status`.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The HTTP status that says the same to a caller that is not gRPC's,
    /// as HTTP/JSON gateways to gRPC services map it (`NOT_FOUND` 404,
    /// `RESOURCE_EXHAUSTED` 429, `UNAUTHENTICATED` 401, `CANCELLED` 499
    /// (client closed request), ...; the codes without a closer one 500).
    pub fn http_status(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            GrpcCode::Ok => S::OK,
            GrpcCode::InvalidArgument | GrpcCode::FailedPrecondition | GrpcCode::OutOfRange => S::BAD_REQUEST,
            GrpcCode::DeadlineExceeded => S::GATEWAY_TIMEOUT,
            GrpcCode::NotFound => S::NOT_FOUND,
            GrpcCode::AlreadyExists | GrpcCode::Aborted => S::CONFLICT,
            GrpcCode::PermissionDenied => S::FORBIDDEN,
            GrpcCode::ResourceExhausted => S::TOO_MANY_REQUESTS,
            GrpcCode::Unimplemented => S::NOT_IMPLEMENTED,
            GrpcCode::Unavailable => S::SERVICE_UNAVAILABLE,
            GrpcCode::Unauthenticated => S::UNAUTHORIZED,
            // 499 is not among `http`'s named codes; it is valid, so the
            // fallback is never taken.
            GrpcCode::Cancelled => S::from_u16(499).unwrap_or(S::INTERNAL_SERVER_ERROR),
            GrpcCode::Unknown | GrpcCode::Internal | GrpcCode::DataLoss => S::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for GrpcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.as_i32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_names_and_numbers_round_trip() {
        for n in 0..=16 {
            let code = GrpcCode::from_i64(n).unwrap();
            assert_eq!(i64::from(code.as_i32()), n);
            assert_eq!(GrpcCode::from_name(code.name()), Some(code));
        }
        assert_eq!(GrpcCode::from_name("deadlineExceeded"), Some(GrpcCode::DeadlineExceeded));
        assert_eq!(GrpcCode::from_name("unavailable"), Some(GrpcCode::Unavailable));
        assert_eq!(GrpcCode::from_name("NOPE"), None);
        assert_eq!(GrpcCode::from_i64(17), None);
    }
}
