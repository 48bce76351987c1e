//! Free functions of every supported shape keep compiling and working.
#![deny(warnings)]

use std::fmt::Display;
use std::sync::LazyLock;

use mischief::{Chaos, InjectedFault, chaos};

#[derive(Debug)]
#[allow(dead_code)]
pub enum AppError {
    NotFound,
    Parse(std::num::ParseIntError),
    Injected(InjectedFault),
}

impl From<InjectedFault> for AppError {
    fn from(fault: InjectedFault) -> Self {
        AppError::Injected(fault)
    }
}

impl From<std::num::ParseIntError> for AppError {
    fn from(e: std::num::ParseIntError) -> Self {
        AppError::Parse(e)
    }
}

static CHAOS: LazyLock<Chaos> = LazyLock::new(Chaos::disabled);

/// Docs and other attributes are kept.
#[chaos]
#[must_use = "the lookup result"]
pub fn lookup(id: u32) -> Result<u32, AppError> {
    if id == 0 {
        return Err(AppError::NotFound);
    }
    Ok(id)
}

#[chaos(name = "app.parse", chaos = CHAOS)]
fn parse_sum(a: &str, b: &str) -> Result<i64, AppError> {
    let a: i64 = a.parse()?;
    let b: i64 = b.parse()?;
    Ok(a + b)
}

#[chaos(name = "app.io")]
fn read_len(path: &std::path::Path) -> std::io::Result<usize> {
    Ok(path.as_os_str().len())
}

#[chaos]
fn boxed_error() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

#[chaos]
fn generic<'a, T: Display + ?Sized, U>(value: &'a T, extra: impl IntoIterator<Item = U>) -> Result<String, AppError>
where
    U: Into<u64>,
{
    let extra: u64 = extra.into_iter().map(Into::into).sum();
    Ok(format!("{value}+{extra}"))
}

#[chaos]
fn returns_unit(counter: &mut u32) {
    *counter += 1;
}

#[chaos]
fn returns_impl_trait(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[chaos(chaos = &*CHAOS, delay_only)]
fn foreign_error() -> Result<u8, std::num::ParseIntError> {
    "7".parse()
}

#[chaos(chaos = chaos)]
fn with_handle(chaos: &Chaos) -> Result<bool, AppError> {
    Ok(chaos.is_enabled())
}

#[chaos(chaos = Chaos::disabled())]
fn handle_by_value() -> Result<(), AppError> {
    Ok(())
}

#[chaos(chaos = std::sync::Arc::new(Chaos::disabled()))]
fn handle_in_an_arc() -> Result<(), AppError> {
    Ok(())
}

/// # Safety
/// None needed; `unsafe` is kept.
#[chaos]
unsafe fn unsafe_fn(x: u8) -> Result<u8, AppError> {
    Ok(x)
}

#[chaos]
pub(crate) extern "C" fn c_abi(x: u8) -> u8 {
    x
}

#[chaos]
fn r#match() -> Result<(), AppError> {
    Ok(())
}

#[chaos]
fn inner_attributes() -> Result<u8, AppError> {
    #![allow(unused_variables)]
    let unused = 1;
    Ok(2)
}

#[chaos]
fn early_returns_and_loops(items: &[i32]) -> Result<i32, AppError> {
    let mut sum = 0;
    for &i in items {
        if i < 0 {
            return Err(AppError::NotFound);
        }
        sum += i;
    }
    Ok(sum)
}

/// `#[track_caller]` keeps working: the point stays a statement in the body.
#[chaos]
#[track_caller]
fn caller_line() -> Result<u32, AppError> {
    Ok(std::panic::Location::caller().line())
}

/// A handle owned by an argument that the body also uses.
#[chaos(chaos = chaos)]
fn owned_handle(chaos: Chaos, label: &mut String) -> Result<Chaos, AppError> {
    label.push_str("used");
    Ok(chaos)
}

fn main() {
    let line = line!() + 1;
    assert_eq!(caller_line().unwrap(), line);
    let mut label = String::new();
    assert!(!owned_handle(Chaos::disabled(), &mut label).unwrap().is_enabled());
    assert_eq!(label, "used");
    assert_eq!(lookup(3).unwrap(), 3);
    assert!(matches!(lookup(0), Err(AppError::NotFound)));
    assert_eq!(parse_sum("2", "40").unwrap(), 42);
    assert!(matches!(parse_sum("x", "1"), Err(AppError::Parse(_))));
    assert_eq!(read_len(std::path::Path::new("abc")).unwrap(), 3);
    boxed_error().unwrap();
    assert_eq!(generic("n", [1u8, 2u8]).unwrap(), "n+3");
    let mut counter = 0;
    returns_unit(&mut counter);
    assert_eq!(counter, 1);
    assert_eq!(returns_impl_trait(3).count(), 3);
    assert_eq!(foreign_error().unwrap(), 7);
    assert!(!with_handle(&Chaos::disabled()).unwrap());
    handle_by_value().unwrap();
    handle_in_an_arc().unwrap();
    // SAFETY: `unsafe_fn` has no preconditions.
    assert_eq!(unsafe { unsafe_fn(4) }.unwrap(), 4);
    assert_eq!(c_abi(5), 5);
    r#match().unwrap();
    assert_eq!(inner_attributes().unwrap(), 2);
    assert_eq!(early_returns_and_loops(&[1, 2]).unwrap(), 3);
    assert!(early_returns_and_loops(&[-1]).is_err());
}
