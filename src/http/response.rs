use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};

#[cfg(doc)]
use crate::FaultKind;
use crate::engine::{Injection, RULE_HEADER, grpc_message, is_grpc};

/// Builds the body of an injected HTTP abort from its bytes.
///
/// Implemented by [`EmptyBody`] (the default: `B::default()`, no bytes) and
/// by every `Fn(Bytes) -> B`, such as `axum::body::Body::from` or
/// `http_body_util::Full::new`.
pub trait AbortBody<B> {
    /// The body carrying `bytes`.
    fn make_body(&self, bytes: Bytes) -> B;

    /// Whether [`make_body`](Self::make_body) keeps the bytes (then the
    /// response gets a `content-type: text/plain` unless one is configured).
    fn carries_bytes(&self) -> bool {
        true
    }
}

/// Aborts answer with `B::default()`: an empty body.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyBody;

impl<B: Default> AbortBody<B> for EmptyBody {
    fn make_body(&self, _bytes: Bytes) -> B {
        B::default()
    }

    fn carries_bytes(&self) -> bool {
        false
    }
}

impl<B, F: Fn(Bytes) -> B> AbortBody<B> for F {
    fn make_body(&self, bytes: Bytes) -> B {
        self(bytes)
    }
}

/// The answer to a failed request: a trailers-only gRPC response for gRPC
/// requests, an HTTP status otherwise. An abort answers as configured; the
/// other kinds answer with [`FaultKind::default_answer`].
pub(crate) fn fault_response<B, ReqBody>(
    injection: &Injection,
    req: &Request<ReqBody>,
    make: &impl AbortBody<B>,
) -> Response<B> {
    let grpc = is_grpc(req.headers());
    if let Some(spec) = injection.abort_spec() {
        if grpc {
            let mut res = Response::new(make.make_body(Bytes::new()));
            *res.headers_mut() = spec.grpc_headers.clone();
            return res;
        }
        let mut res = Response::new(make.make_body(spec.body.clone()));
        *res.status_mut() = spec.status;
        *res.headers_mut() = spec.http_headers.clone();
        if make.carries_bytes() && !res.headers().contains_key(header::CONTENT_TYPE) {
            res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        }
        return res;
    }
    // Error, timeout, partition, loss: built when it happens.
    let fault = injection.fault();
    let message = fault.to_string();
    if grpc {
        let mut res = Response::new(make.make_body(Bytes::new()));
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
    let mut res = Response::new(make.make_body(Bytes::from(message)));
    *res.status_mut() = fault.http_status();
    if let Ok(v) = HeaderValue::from_str(fault.rule()) {
        res.headers_mut().insert(RULE_HEADER, v);
    }
    if make.carries_bytes() {
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    }
    res
}
