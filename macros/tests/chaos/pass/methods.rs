//! Methods: every receiver, associated functions, trait methods, generic impls.
#![deny(warnings)]

use std::sync::Arc;

use mischief::{Chaos, InjectedFault, chaos};

#[derive(Debug)]
#[allow(dead_code)]
enum AppError {
    Empty,
    Injected(InjectedFault),
}

impl From<InjectedFault> for AppError {
    fn from(fault: InjectedFault) -> Self {
        AppError::Injected(fault)
    }
}

struct Client {
    chaos: Chaos,
    calls: u32,
}

impl Client {
    /// An associated function returning `Self`: delays only.
    #[chaos]
    fn new() -> Self {
        Client { chaos: Chaos::disabled(), calls: 0 }
    }

    #[chaos(chaos = self.chaos)]
    fn get(&self, key: &str) -> Result<String, AppError> {
        if key.is_empty() {
            return Err(AppError::Empty);
        }
        Ok(key.to_uppercase())
    }

    #[chaos(name = "client.bump", chaos = self.chaos)]
    fn bump(&mut self) -> Result<u32, AppError> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[chaos(chaos = self.chaos)]
    fn into_calls(self) -> Result<u32, AppError> {
        Ok(self.calls)
    }

    #[chaos]
    fn boxed(self: Box<Self>) -> u32 {
        self.calls
    }

    #[chaos(chaos = self.chaos)]
    fn shared(self: Arc<Self>) -> Result<u32, AppError> {
        Ok(self.calls)
    }
}

trait Store {
    fn put(&mut self, value: u32) -> Result<(), AppError>;

    #[chaos(name = "store.get")]
    fn get_or_zero(&self) -> Result<u32, AppError> {
        Ok(0)
    }
}

impl Store for Client {
    #[chaos(name = "store.put", chaos = self.chaos)]
    fn put(&mut self, value: u32) -> Result<(), AppError> {
        self.calls = value;
        Ok(())
    }
}

struct Wrapper<T>(T);

impl<T: Clone> Wrapper<T> {
    #[chaos]
    fn get(&self) -> Result<T, AppError> {
        Ok(self.0.clone())
    }

    #[chaos]
    fn map<U, F: FnOnce(T) -> U>(self, f: F) -> Wrapper<U> {
        Wrapper(f(self.0))
    }
}

fn main() {
    let mut client = Client::new();
    assert_eq!(client.get("a").unwrap(), "A");
    assert!(matches!(client.get(""), Err(AppError::Empty)));
    assert_eq!(client.bump().unwrap(), 1);
    client.put(7).unwrap();
    assert_eq!(client.get_or_zero().unwrap(), 0);
    assert_eq!(client.into_calls().unwrap(), 7);
    assert_eq!(Box::new(Client::new()).boxed(), 0);
    assert_eq!(Arc::new(Client::new()).shared().unwrap(), 0);
    assert_eq!(Wrapper(3).get().unwrap(), 3);
    assert_eq!(Wrapper(3).map(|x| x * 2).0, 6);
}
