//! Operations read back from a log: each operation's entries in order, and the lineage between
//! operations (retries, compensations, saga steps), for `audit show` and `audit operations`.

use std::collections::HashMap;

use serde_json::Value;

use crate::cli::Select;
use crate::error::CliError;
use crate::lines::{matching_whole, parse};
use crate::source::{Source, SqlQuery};

/// One operation: its entries, first to last.
pub struct Operation {
    pub id: String,
    pub entries: Vec<Value>,
}

impl Operation {
    fn first(&self) -> &Value {
        &self.entries[0]
    }

    /// A top-level text field of its first entry.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.first().get(name).and_then(Value::as_str)
    }

    fn info(&self, name: &str) -> Option<&str> {
        self.first()
            .get("operation")
            .and_then(|o| o.get(name))
            .and_then(Value::as_str)
    }

    pub fn parent(&self) -> Option<&str> {
        self.info("parent")
    }

    pub fn relation(&self) -> Option<&str> {
        self.info("relation")
    }

    /// Its `finished` entry, if it has one yet.
    pub fn finished(&self) -> Option<&Value> {
        self.entries
            .iter()
            .rev()
            .find(|e| stage(e) == Some(audit_core::operation::FINISHED))
    }

    /// The outcome of its `finished` entry; `in progress` when it has none.
    pub fn outcome(&self) -> &str {
        self.finished()
            .and_then(|e| e.get("outcome"))
            .and_then(Value::as_str)
            .unwrap_or("in progress")
    }

    pub fn retryable(&self) -> bool {
        self.finished()
            .and_then(|e| e.pointer("/operation/retryable"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn error(&self) -> Option<&str> {
        self.finished()
            .and_then(|e| e.get("error"))
            .and_then(Value::as_str)
    }
}

fn is_retry(operation: &Operation) -> bool {
    operation.relation() == Some("retry")
}

/// An entry's `operation.stage`.
pub fn stage(entry: &Value) -> Option<&str> {
    entry.pointer("/operation/stage").and_then(Value::as_str)
}

/// The operations of a log, and which follow from which.
#[derive(Default)]
pub struct Operations {
    by_id: HashMap<String, Operation>,
    /// Ids in the order their first entry was read.
    order: Vec<String>,
    children: HashMap<String, Vec<String>>,
}

impl Operations {
    /// Reads the entries of `select`'s SOURCE that belong to operations and pass its filters.
    pub fn read(select: &Select) -> Result<Self, CliError> {
        let filter = select.filter()?;
        let (source, sql) = select.open(None)?;
        let sql = SqlQuery {
            condition: format!("operation_id IS NOT NULL AND ({})", sql.condition),
            limit: None,
            ..sql
        };
        Self::read_from(&source, &sql, |line| matching_whole(&filter, line))
    }

    /// Reads every operation of `source`, unfiltered.
    pub fn read_all(source: &Source) -> Result<Self, CliError> {
        let sql = SqlQuery {
            condition: "operation_id IS NOT NULL".into(),
            ..SqlQuery::all("ts, id")
        };
        Self::read_from(source, &sql, parse)
    }

    fn read_from(
        source: &Source,
        sql: &SqlQuery,
        mut keep: impl FnMut(&crate::source::Line<'_>) -> Option<Value>,
    ) -> Result<Self, CliError> {
        let mut operations = Operations::default();
        source.each_line(sql, |line| {
            // Only lines of operations are parsed.
            if !line.text.contains("\"operation\":{") {
                return true;
            }
            if let Some(entry) = keep(&line) {
                operations.add(entry);
            }
            true
        })?;
        Ok(operations)
    }

    fn add(&mut self, entry: Value) {
        let Some(id) = entry.pointer("/operation/id").and_then(Value::as_str) else {
            return;
        };
        let id = id.to_owned();
        match self.by_id.get_mut(&id) {
            Some(operation) => operation.entries.push(entry),
            None => {
                if let Some(parent) = entry.pointer("/operation/parent").and_then(Value::as_str) {
                    self.children
                        .entry(parent.to_owned())
                        .or_default()
                        .push(id.clone());
                }
                self.order.push(id.clone());
                self.by_id.insert(
                    id.clone(),
                    Operation {
                        id,
                        entries: vec![entry],
                    },
                );
            }
        }
    }

    #[cfg(test)]
    pub fn get(&self, id: &str) -> Option<&Operation> {
        self.by_id.get(id)
    }

    /// Every operation, in the order they started.
    pub fn all(&self) -> impl Iterator<Item = &Operation> {
        self.order.iter().filter_map(|id| self.by_id.get(id))
    }

    /// The operations that follow from `id` (retries, compensations, steps), in order.
    pub fn children(&self, id: &str) -> impl Iterator<Item = &Operation> {
        self.children
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|child| self.by_id.get(child))
    }

    /// The operation `id` names: an operation id, or the id of one of its entries.
    pub fn find(&self, id: &str) -> Option<&Operation> {
        self.by_id.get(id).or_else(|| {
            self.all().find(|operation| {
                operation
                    .entries
                    .iter()
                    .any(|e| e.get("id").and_then(Value::as_str) == Some(id))
            })
        })
    }

    /// The operations `operation` follows from, nearest first, while `follow` says the link
    /// is to be followed. Parents start before their children, so the walk ends; the bound
    /// guards a forged log whose links go round.
    fn ancestors<'a>(
        &'a self,
        operation: &'a Operation,
        follow: impl Fn(&Operation) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Operation> + 'a {
        std::iter::successors(Some(operation), move |op| {
            follow(op)
                .then(|| op.parent().and_then(|p| self.by_id.get(p)))
                .flatten()
        })
        .skip(1)
        .take(self.by_id.len())
    }

    /// The first operation of `operation`'s lineage that is in the log.
    pub fn root<'a>(&'a self, operation: &'a Operation) -> &'a Operation {
        self.ancestors(operation, |_| true)
            .last()
            .unwrap_or(operation)
    }

    /// Which attempt `operation` is: 1, or one more than the failed operation it retries.
    pub fn attempt(&self, operation: &Operation) -> usize {
        1 + self.ancestors(operation, is_retry).count()
    }

    /// Whether `operation` succeeded, itself or through a chain of retries.
    fn eventually_succeeded(&self, operation: &Operation, depth: usize) -> bool {
        operation.outcome() == "success"
            || (depth < self.by_id.len()
                && self
                    .children(&operation.id)
                    .filter(|child| is_retry(child))
                    .any(|retry| self.eventually_succeeded(retry, depth + 1)))
    }

    /// Failed operations marked retryable with no successful retry yet (the last failure of
    /// each retry chain, so a chain is listed once).
    pub fn retryable_failures(&self) -> Vec<&Operation> {
        self.all()
            .filter(|op| op.outcome() == "error" && op.retryable())
            .filter(|op| !self.children(&op.id).any(is_retry))
            .filter(|op| {
                // No ancestor in its retry chain succeeded through another branch.
                let root = self.retry_root(op);
                !self.eventually_succeeded(root, 0)
            })
            .collect()
    }

    fn retry_root<'a>(&'a self, operation: &'a Operation) -> &'a Operation {
        self.ancestors(operation, is_retry)
            .last()
            .unwrap_or(operation)
    }

    /// Successful operations that were compensated, each with its compensations.
    pub fn compensated(&self) -> Vec<(&Operation, Vec<&Operation>)> {
        self.all()
            .filter(|op| op.outcome() == "success")
            .filter_map(|op| {
                let compensations: Vec<&Operation> = self
                    .children(&op.id)
                    .filter(|child| child.relation() == Some("compensation"))
                    .collect();
                (!compensations.is_empty()).then_some((op, compensations))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(id: &str, stage: &str, outcome: &str, link: Option<(&str, &str)>) -> Value {
        let mut operation = json!({"id": id, "stage": stage});
        if let Some((parent, relation)) = link {
            operation["parent"] = json!(parent);
            operation["relation"] = json!(relation);
        }
        if outcome == "error" {
            operation["retryable"] = json!(true);
        }
        json!({"id": format!("e-{id}-{stage}"), "endpoint": "job", "outcome": outcome, "operation": operation})
    }

    fn log(entries: Vec<Value>) -> Operations {
        let mut operations = Operations::default();
        for e in entries {
            operations.add(e);
        }
        operations
    }

    #[test]
    fn a_failure_is_retryable_until_a_retry_succeeds() {
        let failed_twice = log(vec![
            entry("a", "started", "pending", None),
            entry("a", "finished", "error", None),
            entry("b", "started", "pending", Some(("a", "retry"))),
            entry("b", "finished", "error", Some(("a", "retry"))),
        ]);
        let ids: Vec<&str> = failed_twice
            .retryable_failures()
            .iter()
            .map(|o| o.id.as_str())
            .collect();
        assert_eq!(ids, ["b"], "the chain is listed once, by its last failure");
        let b = failed_twice.get("b").map(|b| failed_twice.attempt(b));
        assert_eq!(b, Some(2));

        let then_succeeded = log(vec![
            entry("a", "finished", "error", None),
            entry("b", "finished", "error", Some(("a", "retry"))),
            entry("c", "finished", "success", Some(("b", "retry"))),
        ]);
        assert!(then_succeeded.retryable_failures().is_empty());
        let c = then_succeeded
            .get("c")
            .map(|c| then_succeeded.root(c).id.clone());
        assert_eq!(c.as_deref(), Some("a"));
    }

    #[test]
    fn compensated_successes_are_listed_with_their_compensations() {
        let operations = log(vec![
            entry("pay", "finished", "success", None),
            entry(
                "refund",
                "finished",
                "success",
                Some(("pay", "compensation")),
            ),
            entry("other", "finished", "success", None),
        ]);
        let compensated = operations.compensated();
        assert_eq!(compensated.len(), 1);
        assert_eq!(compensated[0].0.id, "pay");
        assert_eq!(compensated[0].1[0].id, "refund");
        // Found by an entry's id too.
        assert_eq!(
            operations.find("e-refund-finished").map(|o| o.id.as_str()),
            Some("refund")
        );
    }
}
