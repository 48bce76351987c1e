use mischief::{InjectedFault, chaos};

#[chaos(delay_only = true)]
fn charge() -> Result<(), InjectedFault> {
    Ok(())
}

fn main() {}
