use std::future::Future;
use std::pin::Pin;

use mischief::{InjectedFault, chaos};

// What `#[async_trait]` makes of an `async fn` method before `#[chaos]`
// sees it: a plain function returning a boxed future.
#[chaos(name = "inventory.reserve")]
fn reserve() -> Pin<Box<dyn Future<Output = Result<(), InjectedFault>> + Send>> {
    Box::pin(async { Ok(()) })
}

#[chaos(name = "inventory.release")]
fn release() -> impl Future<Output = Result<(), InjectedFault>> {
    async { Ok(()) }
}

fn main() {}
