//! The answer to a call a fault fails without reaching the service, shared
//! by the HTTP layer and the client middleware: the same status, headers
//! and body on both sides of the wire.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};

use crate::engine::{Injection, grpc_message, is_grpc, rule_header_value};

/// How the request that a fault answers was made, as far as the answer
/// depends on it.
#[derive(Clone, Copy)]
pub(crate) struct Asked<'a> {
    /// The request's `content-type` when it is a gRPC request (any
    /// `application/grpc*` type): the answer is trailers-only, with the
    /// same `content-type`.
    grpc: Option<&'a HeaderValue>,
    /// A `HEAD` request: the answer has the headers a `GET` would get, and
    /// no body.
    head: bool,
}

impl<'a> Asked<'a> {
    pub(crate) fn new(method: &Method, headers: &'a HeaderMap) -> Self {
        let grpc = if is_grpc(headers) { headers.get(header::CONTENT_TYPE) } else { None };
        Self { grpc, head: method == Method::HEAD }
    }
}

/// The answer to a failed call: a trailers-only gRPC response for a gRPC
/// request, an HTTP status otherwise. An abort answers as configured; the
/// other kinds answer with
/// [`FaultKind::default_answer`](crate::FaultKind::default_answer).
///
/// `body` makes the body from the bytes to send (called once); when
/// `carries_bytes`, a body with text gets a `content-type: text/plain`
/// unless the abort sets one. As on the wire, a status that has no body
/// (1xx, 204, 304) gets none (nor a default `content-type`), and neither
/// does an answer to a `HEAD` request: HTTP/2 servers send whatever body
/// they are given, and clients reset the stream. A `HEAD` answer gets the
/// `content-length` its `GET` would have (the server can no longer tell it
/// from the body), and so does every answer when `exact` (the body is the
/// bytes as they are: the client's); otherwise the server writes it from
/// the body, which a `Fn(Bytes) -> B` of the user's may have changed. An
/// HTTP answer says `cache-control: no-store` unless the abort sets its
/// own, so that no cache in front of the service keeps serving it after
/// the fault ends.
pub(crate) fn fault_answer<B>(
    injection: &Injection,
    asked: Asked<'_>,
    body: impl FnOnce(Bytes) -> B,
    carries_bytes: bool,
    exact: bool,
) -> Response<B> {
    if let Some(spec) = injection.abort_spec() {
        if let Some(content_type) = asked.grpc {
            let mut res = Response::new(body(Bytes::new()));
            *res.headers_mut() = spec.grpc_headers.clone();
            res.headers_mut().insert(header::CONTENT_TYPE, content_type.clone());
            return res;
        }
        let bytes = spec.body.clone();
        return http_answer(spec.status, spec.http_headers.clone(), bytes, asked, body, carries_bytes, exact);
    }
    // Error, timeout, partition, loss: built when it happens.
    let fault = injection.fault();
    let message = fault.to_string();
    if let Some(content_type) = asked.grpc {
        let mut res = Response::new(body(Bytes::new()));
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type.clone());
        headers.insert("grpc-status", HeaderValue::from(fault.grpc_code().as_i32()));
        if let Ok(v) = HeaderValue::from_str(&grpc_message(&message)) {
            headers.insert("grpc-message", v);
        }
        headers.insert(crate::engine::RULE_HEADER, rule_header_value(fault.rule()));
        return res;
    }
    let mut headers = HeaderMap::new();
    headers.insert(crate::engine::RULE_HEADER, rule_header_value(fault.rule()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    http_answer(fault.http_status(), headers, Bytes::from(message), asked, body, carries_bytes, exact)
}

/// An HTTP answer with `status`, `headers` (which carry the rule's name
/// and the cache's instruction) and the bytes of its body, as
/// [`fault_answer`] says.
fn http_answer<B>(
    status: StatusCode,
    mut headers: HeaderMap,
    bytes: Bytes,
    asked: Asked<'_>,
    body: impl FnOnce(Bytes) -> B,
    carries_bytes: bool,
    exact: bool,
) -> Response<B> {
    let bodiless = status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    if carries_bytes && !bodiless && !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    }
    if !bodiless && (asked.head || exact) {
        let len = if carries_bytes { bytes.len() } else { 0 };
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let sent = if bodiless || asked.head || !carries_bytes { Bytes::new() } else { bytes };
    let mut res = Response::new(body(sent));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}
