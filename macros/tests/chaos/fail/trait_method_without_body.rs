use mischief::{InjectedFault, chaos};

trait Payments {
    #[chaos]
    fn charge(&self) -> Result<(), InjectedFault>;
}

fn main() {}
