use mischief::chaos;

#[derive(Debug)]
enum PaymentError {
    Declined,
}

#[chaos]
fn charge(cents: u64) -> Result<u64, PaymentError> {
    if cents == 0 {
        return Err(PaymentError::Declined);
    }
    Ok(cents)
}

fn main() {
    let _ = charge(1);
}
