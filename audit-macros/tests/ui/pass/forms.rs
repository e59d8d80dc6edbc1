#![deny(warnings)]

use audit_core::audited;
use serde::Serialize;

#[derive(Serialize, Clone)]
pub struct Order {
    pub id: u32,
}

#[derive(Debug)]
pub struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failure")
    }
}

/// Doc comments and other attributes stay on the function.
#[audited("plain")]
#[inline]
pub fn plain(order: Order, count: u32) -> u32 {
    order.id + count
}

#[audited]
async fn asynchronous(order: &Order) -> Order {
    order.clone()
}

#[audited(name = "fallible", err)]
pub(crate) fn fallible(ok: bool) -> Result<u32, Failure> {
    if ok { Ok(1) } else { Err(Failure) }
}

#[audited(ret)]
fn generic<T: Clone + Send>(value: T) -> T {
    value.clone()
}

#[audited(skip_all)]
fn opaque() -> impl Iterator<Item = u32> {
    vec![1, 2, 3].into_iter()
}

#[audited]
fn borrowed<'a>(text: &'a str, _unused: u8) -> &'a str {
    text
}

#[audited(skip(secret), fields(region = "eu", shown = %count, listed = ?[1, 2], count), user = who, level = "request")]
fn options(who: &str, secret: &str, count: u32) -> usize {
    who.len() + secret.len() + count as usize
}

#[audited(level = "metadata")]
fn nothing() {}

#[audited]
fn early_return(n: u32) -> Result<u32, String> {
    if n == 0 {
        return Err("zero".into());
    }
    let parsed: u32 = "7".parse().map_err(|_| "parse".to_string())?;
    Ok(parsed + n)
}

pub struct Account {
    balance: i64,
}

impl Account {
    #[audited]
    pub fn balance(&self) -> i64 {
        self.balance
    }

    #[audited("account_credit")]
    pub fn credit(&mut self, amount: i64) -> i64 {
        self.balance += amount;
        self.balance
    }

    #[audited]
    pub async fn close(self) -> i64 {
        self.balance
    }

    #[audited]
    pub fn open(balance: i64) -> Self {
        Account { balance }
    }
}

#[async_trait::async_trait]
pub trait Tool {
    async fn run(&self, input: String) -> Result<String, Failure>;
}

pub struct Echo;

#[async_trait::async_trait]
impl Tool for Echo {
    #[audited("tool_echo")]
    async fn run(&self, input: String) -> Result<String, Failure> {
        Ok(input)
    }
}

#[audited("tenant_job", tenant = org, tags("billing", "nightly"), started)]
async fn tenant_job(org: &str) -> Result<u32, String> {
    Ok(org.len() as u32)
}

fn main() {
    let _ = plain(Order { id: 1 }, 2);
    let _ = asynchronous(&Order { id: 1 });
    let _ = fallible(true);
    let _ = generic(5u8);
    let _ = opaque().count();
    let _ = borrowed("x", 0);
    let _ = options("a", "b", 1);
    nothing();
    let _ = early_return(1);
    let mut account = Account::open(1);
    let _ = account.balance();
    let _ = account.credit(1);
    let _ = account.close();
    let _ = Echo.run(String::new());
    let _ = tenant_job("acme");
}
