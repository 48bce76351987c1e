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

    /// A reborrow of `&mut self` returned from the body.
    #[chaos]
    fn calls_mut(&mut self) -> &mut u32 {
        &mut self.calls
    }

    #[chaos(chaos = self.chaos)]
    fn try_calls_mut(&mut self) -> Result<&mut u32, AppError> {
        Ok(&mut self.calls)
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

struct Named {
    name: String,
}

impl Named {
    /// Elided lifetimes in the return type.
    #[chaos]
    fn name(&self) -> &str {
        &self.name
    }

    #[chaos]
    fn checked_name(&self) -> Result<&str, AppError> {
        if self.name.is_empty() {
            return Err(AppError::Empty);
        }
        Ok(&self.name)
    }

    #[chaos]
    fn first<'a>(&self, items: &'a [u8]) -> Option<&'a u8> {
        items.first()
    }

    #[chaos]
    fn cow(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.name)
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
    *client.calls_mut() += 1;
    *client.try_calls_mut().unwrap() += 1;
    assert_eq!(client.bump().unwrap(), 4);
    client.put(7).unwrap();
    assert_eq!(client.get_or_zero().unwrap(), 0);
    assert_eq!(client.into_calls().unwrap(), 7);
    assert_eq!(Box::new(Client::new()).boxed(), 0);
    assert_eq!(Arc::new(Client::new()).shared().unwrap(), 0);
    let named = Named { name: "n".into() };
    assert_eq!(named.name(), "n");
    assert_eq!(named.checked_name().unwrap(), "n");
    assert_eq!(named.first(&[4, 5]), Some(&4));
    assert_eq!(named.cow(), "n");
    assert_eq!(Wrapper(3).get().unwrap(), 3);
    assert_eq!(Wrapper(3).map(|x| x * 2).0, 6);
}
