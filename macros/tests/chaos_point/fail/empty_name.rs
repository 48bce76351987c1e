use mischief::{InjectedFault, chaos_point};

fn charge() -> Result<(), InjectedFault> {
    chaos_point!("");
    Ok(())
}

fn main() {
    let _ = charge();
}
