//! Every form of `chaos_point!`, in functions, closures and async blocks.
#![deny(warnings)]

use std::sync::{Arc, LazyLock};

use mischief::point::FromFault;
use mischief::{Chaos, InjectedFault, chaos_point};

#[derive(Debug)]
#[allow(dead_code)]
enum DbError {
    Unavailable(String),
    Injected(InjectedFault),
}

impl From<InjectedFault> for DbError {
    fn from(fault: InjectedFault) -> Self {
        DbError::Injected(fault)
    }
}

static CHAOS: LazyLock<Chaos> = LazyLock::new(Chaos::disabled);
const NAME: &str = "db.named_by_a_const";

fn plain() -> Result<u8, DbError> {
    chaos_point!("db.plain");
    chaos_point!(NAME);
    chaos_point!("db.handle", chaos = CHAOS);
    chaos_point!("db.trailing_comma",);
    Ok(1)
}

fn with_closures(chaos: &Chaos) -> Result<u8, DbError> {
    chaos_point!("db.map", |fault| Err(DbError::Unavailable(fault.to_string())));
    chaos_point!("db.map_handle", chaos = chaos, |fault| Err(DbError::Injected(fault)));
    chaos_point!("db.ignore", |_| Ok(0));
    Ok(2)
}

fn not_a_result() -> Option<u8> {
    chaos_point!("cache.get", |_| None);
    Some(3)
}

fn unit_return(log: &mut Vec<&'static str>) {
    chaos_point!("log.write", |_| ());
    log.push("written");
}

enum Reply {
    Ok,
    Unavailable,
}

impl FromFault for Reply {
    fn from_fault(_: InjectedFault) -> Self {
        Reply::Unavailable
    }
}

fn custom_return_type() -> Reply {
    chaos_point!("api.reply");
    Reply::Ok
}

fn io() -> std::io::Result<()> {
    chaos_point!("fs.read");
    Ok(())
}

async fn in_async(chaos: Arc<Chaos>) -> Result<u8, DbError> {
    chaos_point!(async "db.async");
    chaos_point!(async "db.async_handle", chaos = chaos);
    chaos_point!(async "db.async_map", |fault| Err(DbError::Unavailable(fault.to_string())));
    chaos_point!(async "db.async_map_handle", chaos = *chaos, |fault| Err(DbError::Injected(fault)));
    Ok(4)
}

fn main() {
    assert_eq!(plain().unwrap(), 1);
    assert_eq!(with_closures(&Chaos::disabled()).unwrap(), 2);
    assert_eq!(not_a_result(), Some(3));
    let mut log = Vec::new();
    unit_return(&mut log);
    assert_eq!(log, ["written"]);
    assert!(matches!(custom_return_type(), Reply::Ok));
    io().unwrap();
    let in_closure = |x: u8| -> Result<u8, DbError> {
        chaos_point!("closure.point");
        Ok(x)
    };
    assert_eq!(in_closure(5).unwrap(), 5);

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let chaos = Arc::new(Chaos::disabled());
    let task = rt.spawn(in_async(chaos.clone()));
    assert_eq!(rt.block_on(task).unwrap().unwrap(), 4);
    let block = rt.block_on(async {
        chaos_point!(async "block.point", |_| Err::<u8, DbError>(DbError::Unavailable("down".into())));
        Ok::<u8, DbError>(6)
    });
    assert_eq!(block.unwrap(), 6);
}
