use bytes::Bytes;
use http::{Request, Response};

use crate::answer::{Asked, fault_answer};
use crate::engine::Injection;

/// Builds the body of an injected HTTP abort from its bytes.
///
/// Implemented by [`EmptyBody`] (the default: `B::default()`, no bytes) and
/// by every `Fn(Bytes) -> B`, such as `axum::body::Body::from` or
/// `http_body_util::Full::new`.
pub trait AbortBody<B> {
    /// The body carrying `bytes`.
    fn make_body(&self, bytes: Bytes) -> B;

    /// Whether [`make_body`](Self::make_body) keeps the bytes (then the
    /// response gets a `content-type: text/plain` unless one is
    /// configured).
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
/// requests, an HTTP status otherwise (see [`fault_answer`]).
pub(crate) fn fault_response<B, ReqBody>(
    injection: &Injection,
    req: &Request<ReqBody>,
    make: &impl AbortBody<B>,
) -> Response<B> {
    let asked = Asked::new(req.method(), req.headers());
    fault_answer(injection, asked, |bytes| make.make_body(bytes), make.carries_bytes(), false)
}
