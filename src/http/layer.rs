use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::{ChaosService, EmptyBody};
use crate::Chaos;

/// Applies [`ChaosService`] to an HTTP service. See the [module docs](super).
#[derive(Clone)]
#[must_use]
pub struct ChaosLayer<M = EmptyBody> {
    chaos: Chaos,
    name: Option<Arc<str>>,
    body: M,
}

impl ChaosLayer {
    /// A layer driven by `chaos`.
    pub fn new(chaos: Chaos) -> Self {
        Self { chaos, name: None, body: EmptyBody }
    }

    /// A layer driven by the process-wide [`Chaos::global`] handle.
    pub fn global() -> Self {
        Self::new(Chaos::global().clone())
    }
}

impl<M> ChaosLayer<M> {
    /// Names this layer, so rules can select it with `match.name` (useful
    /// when one process has several layers).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Builds abort bodies with `make` (for example `axum::body::Body::from`)
    /// so aborts carry the configured `body` (or `message`) as
    /// `text/plain`. Without it the body is `ResBody::default()`.
    pub fn abort_body<N>(self, make: N) -> ChaosLayer<N> {
        ChaosLayer { chaos: self.chaos, name: self.name, body: make }
    }
}

impl<S, M: Clone> Layer<S> for ChaosLayer<M> {
    type Service = ChaosService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        ChaosService::from_parts(inner, self.chaos.clone(), self.name.clone(), self.body.clone())
    }
}

impl<M> fmt::Debug for ChaosLayer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosLayer").field("chaos", &self.chaos).field("name", &self.name).finish_non_exhaustive()
    }
}
