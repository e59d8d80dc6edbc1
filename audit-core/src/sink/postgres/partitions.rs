//! Range partitions by `ts`: created ahead, dropped whole past retention.

use time::OffsetDateTime;
use tokio_postgres::Client;

use super::schema::{lock_table, qualified};

/// Range partitioning of the table by `ts` (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Partitioning {
    /// One partition per day (`<table>_pYYYYMMDD`), created 7 days ahead.
    Daily,
    /// One partition per month (`<table>_pYYYYMM`), created 2 months ahead.
    Monthly,
}

impl Partitioning {
    /// The partition holding `date`: its name suffix, first day and the first day after it.
    fn range(self, date: time::Date) -> (String, time::Date, time::Date) {
        match self {
            Partitioning::Daily => {
                let next = date.next_day().unwrap_or(date);
                let name = format!(
                    "{:04}{:02}{:02}",
                    date.year(),
                    u8::from(date.month()),
                    date.day()
                );
                (name, date, next)
            }
            Partitioning::Monthly => {
                let first = date.replace_day(1).unwrap_or(date);
                let next = match first.month() {
                    time::Month::December => {
                        time::Date::from_calendar_date(first.year() + 1, time::Month::January, 1)
                    }
                    month => time::Date::from_calendar_date(first.year(), month.next(), 1),
                }
                .unwrap_or(first);
                (
                    format!("{:04}{:02}", first.year(), u8::from(first.month())),
                    first,
                    next,
                )
            }
        }
    }

    /// How many partitions are created ahead of today's.
    fn ahead(self) -> usize {
        match self {
            Partitioning::Daily => 7,
            Partitioning::Monthly => 2,
        }
    }

    /// Parses a suffix written by [`Partitioning::range`] back to its range.
    fn parse(self, suffix: &str) -> Option<(time::Date, time::Date)> {
        let digits = |range: std::ops::Range<usize>| suffix.get(range)?.parse::<i32>().ok();
        let date = match self {
            Partitioning::Daily if suffix.len() == 8 => time::Date::from_calendar_date(
                digits(0..4)?,
                time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?,
                u8::try_from(digits(6..8)?).ok()?,
            )
            .ok()?,
            Partitioning::Monthly if suffix.len() == 6 => time::Date::from_calendar_date(
                digits(0..4)?,
                time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?,
                1,
            )
            .ok()?,
            _ => return None,
        };
        let (_, first, next) = self.range(date);
        Some((first, next))
    }
}

/// Creates the partitions from the one before today's to [`Partitioning::ahead`] after it, and a
/// default partition for anything outside them; drops partitions whose whole range is older than
/// `retention_days`. Returns the partitions dropped.
pub(crate) async fn maintain_partitions(
    client: &mut Client,
    schema: &str,
    table: &str,
    partitioning: Partitioning,
    retention_days: Option<u32>,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let parent = qualified(schema, table);
    let today = OffsetDateTime::now_utc().date();
    let transaction = client.transaction().await?;
    lock_table(&transaction, schema, table).await?;
    let mut date = partitioning.range(today.previous_day().unwrap_or(today)).1;
    for _ in 0..partitioning.ahead() + 2 {
        let (suffix, first, next) = partitioning.range(date);
        transaction
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {parent} FOR VALUES FROM ('{first} 00:00:00+00') TO ('{next} 00:00:00+00')",
                qualified(schema, &format!("{table}_p{suffix}"))
            ))
            .await?;
        date = next;
    }
    transaction
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF {parent} DEFAULT",
            qualified(schema, &format!("{table}_pdefault"))
        ))
        .await?;
    let mut dropped = Vec::new();
    if let Some(days) = retention_days {
        let oldest_kept = today - time::Duration::days(i64::from(days));
        let partitions = transaction
            .query(
                "SELECT c.relname::text FROM pg_inherits i
                 JOIN pg_class c ON c.oid = i.inhrelid
                 JOIN pg_class p ON p.oid = i.inhparent
                 JOIN pg_namespace n ON n.oid = p.relnamespace
                 WHERE n.nspname = $1 AND p.relname = $2",
                &[&schema, &table],
            )
            .await?;
        let prefix = format!("{table}_p");
        for row in partitions {
            let name: String = row.get(0);
            let Some((_, next)) = name
                .strip_prefix(&prefix)
                .and_then(|suffix| partitioning.parse(suffix))
            else {
                continue;
            };
            if next <= oldest_kept {
                transaction
                    .batch_execute(&format!("DROP TABLE {}", qualified(schema, &name)))
                    .await?;
                dropped.push(name);
            }
        }
    }
    transaction.commit().await?;
    Ok(dropped)
}
