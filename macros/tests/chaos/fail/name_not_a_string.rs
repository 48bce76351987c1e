use mischief::{InjectedFault, chaos};

#[chaos(name = payments.charge)]
fn charge() -> Result<(), InjectedFault> {
    Ok(())
}

fn main() {}
