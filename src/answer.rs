//! The answer to a call a fault fails without reaching the service, shared
//! by the HTTP layer and the client middleware: the same status, headers
//! and body on both sides of the wire.

use bytes::Bytes;
use http::{HeaderValue, Response, header};

use crate::engine::{Injection, RULE_HEADER, grpc_message};

/// The answer to a failed call: a trailers-only gRPC response when `grpc`,
/// an HTTP status otherwise. An abort answers as configured; the other
/// kinds answer with [`FaultKind::default_answer`](crate::FaultKind::default_answer).
///
/// `body` makes the body from the bytes to send (called once); when
/// `carries_bytes`, a body with text gets a `content-type: text/plain`
/// unless the abort sets one.
pub(crate) fn fault_answer<B>(
    injection: &Injection,
    grpc: bool,
    body: impl FnOnce(Bytes) -> B,
    carries_bytes: bool,
) -> Response<B> {
    if let Some(spec) = injection.abort_spec() {
        if grpc {
            let mut res = Response::new(body(Bytes::new()));
            *res.headers_mut() = spec.grpc_headers.clone();
            return res;
        }
        let mut res = Response::new(body(spec.body.clone()));
        *res.status_mut() = spec.status;
        *res.headers_mut() = spec.http_headers.clone();
        if carries_bytes && !res.headers().contains_key(header::CONTENT_TYPE) {
            res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        }
        return res;
    }
    // Error, timeout, partition, loss: built when it happens.
    let fault = injection.fault();
    let message = fault.to_string();
    if grpc {
        let mut res = Response::new(body(Bytes::new()));
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert("grpc-status", HeaderValue::from(fault.grpc_code().as_i32()));
        if let Ok(v) = HeaderValue::from_str(&grpc_message(&message)) {
            headers.insert("grpc-message", v);
        }
        if let Ok(v) = HeaderValue::from_str(fault.rule()) {
            headers.insert(RULE_HEADER, v);
        }
        return res;
    }
    let mut res = Response::new(body(Bytes::from(message)));
    *res.status_mut() = fault.http_status();
    if let Ok(v) = HeaderValue::from_str(fault.rule()) {
        res.headers_mut().insert(RULE_HEADER, v);
    }
    if carries_bytes {
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    }
    res
}
