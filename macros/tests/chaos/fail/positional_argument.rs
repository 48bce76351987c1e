use mischief::{InjectedFault, chaos};

#[chaos("payments.charge")]
fn charge() -> Result<(), InjectedFault> {
    Ok(())
}

fn main() {}
