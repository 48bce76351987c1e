//! `async fn`: free, methods, trait methods; the futures stay `Send`.
#![deny(warnings)]

use std::future::Future;

use mischief::{Chaos, InjectedFault, chaos};

#[derive(Debug)]
#[allow(dead_code)]
enum AppError {
    Missing,
    Injected(InjectedFault),
}

impl From<InjectedFault> for AppError {
    fn from(fault: InjectedFault) -> Self {
        AppError::Injected(fault)
    }
}

/// Fetches a record.
#[chaos(name = "repo.fetch")]
async fn fetch(id: u32) -> Result<u32, AppError> {
    if id == 0 {
        return Err(AppError::Missing);
    }
    tokio::task::yield_now().await;
    Ok(id)
}

#[chaos(chaos = chaos)]
async fn borrowed<'a>(chaos: &'a Chaos, name: &'a str) -> Result<&'a str, AppError> {
    let _ = chaos;
    Ok(name)
}

#[chaos]
async fn unit_async() {}

#[chaos]
async fn generic_async<T: Send, E>(t: T) -> Result<T, E>
where
    E: From<InjectedFault>,
{
    Ok(t)
}

#[chaos]
async fn uses_question_mark(s: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let n: u32 = s.parse()?;
    fetch(n).await.map_err(|e| format!("{e:?}"))?;
    Ok(n)
}

struct Repo {
    chaos: Chaos,
}

impl Repo {
    #[chaos(chaos = self.chaos)]
    async fn load(&self, id: u32) -> Result<u32, AppError> {
        fetch(id).await
    }

    #[chaos(chaos = self.chaos)]
    async fn consume(self) -> u32 {
        1
    }
}

trait Loader {
    async fn load_all(&self) -> Result<Vec<u32>, AppError>;
}

impl Loader for Repo {
    #[chaos(name = "loader.all")]
    async fn load_all(&self) -> Result<Vec<u32>, AppError> {
        Ok(vec![self.load(1).await?, self.load(2).await?])
    }
}

fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        assert_eq!(assert_send(fetch(1)).await.unwrap(), 1);
        assert!(matches!(fetch(0).await, Err(AppError::Missing)));
        let chaos = Chaos::disabled();
        assert_eq!(assert_send(borrowed(&chaos, "x")).await.unwrap(), "x");
        assert_send(unit_async()).await;
        assert_eq!(assert_send(generic_async::<_, AppError>(5u8)).await.unwrap(), 5);
        assert_eq!(assert_send(uses_question_mark("3")).await.unwrap(), 3);
        assert!(uses_question_mark("x").await.is_err());
        let repo = Repo { chaos: Chaos::disabled() };
        assert_eq!(assert_send(repo.load(4)).await.unwrap(), 4);
        assert_eq!(repo.load_all().await.unwrap(), vec![1, 2]);
        assert_eq!(assert_send(repo.consume()).await, 1);
    });
}
