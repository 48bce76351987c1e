use mischief::{InjectedFault, chaos_point};

fn charge() -> Result<(), InjectedFault> {
    chaos_point!(async "payments.charge");
    Ok(())
}

fn main() {
    let _ = charge();
}
