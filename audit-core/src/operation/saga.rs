//! Sagas: steps run in order, each an operation linked to the saga; when one fails, the steps
//! that completed are compensated in reverse order, each compensation an operation linked to
//! the step it undoes, and the saga records the failure.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use uuid::Uuid;

use super::{Operation, OperationBuilder};

type Compensation = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A saga in progress; made by [`OperationBuilder::start_saga`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use audit_core::{Auditor, MemorySink};
///
/// let sink = MemorySink::new();
/// let auditor = Auditor::builder().build(sink.clone()).unwrap();
/// let mut saga = auditor.operation("book_trip").tenant("acme").start_saga();
/// let flight = saga
///     .step_compensable(
///         "reserve_flight",
///         async { Ok::<_, String>("FL-42".to_owned()) },
///         |flight: &String| {
///             let flight = flight.clone();
///             async move { println!("cancel {flight}"); Ok::<_, String>(()) }
///         },
///     )
///     .await;
/// assert!(flight.is_ok());
/// let hotel = saga.step("reserve_hotel", async { Err::<(), _>("no rooms") }).await;
/// let failure = hotel.unwrap_err();
/// assert_eq!(failure.compensations().len(), 1); // the flight, cancelled
/// auditor.shutdown().await.unwrap();
/// # }
/// ```
#[must_use = "dropping a saga records it as cancelled, without compensating its steps"]
pub struct Saga {
    operation: Option<Operation>,
    completed: Vec<Completed>,
}

struct Completed {
    id: Uuid,
    name: String,
    compensation: Option<Compensation>,
}

/// How one completed step's compensation went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompensationReport {
    /// The step's name.
    pub step: String,
    /// The step's operation id.
    pub step_id: Uuid,
    /// `Err` with the compensation's error when it failed.
    pub result: Result<(), String>,
}

/// Why a saga's step did not run or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SagaError<E> {
    /// The step failed; the steps before it were compensated, in reverse order.
    #[error("saga step `{step}` failed: {error}; {} earlier step(s) compensated", compensations.len())]
    StepFailed {
        /// The failed step's name.
        step: String,
        /// What the step returned.
        error: E,
        /// The compensations run, last completed step first.
        compensations: Vec<CompensationReport>,
    },
    /// The saga had already failed or completed: start a new one.
    #[error("the saga is already finished: start a new saga to run step `{step}`")]
    Finished {
        /// The step that was not run.
        step: String,
    },
}

impl<E> SagaError<E> {
    /// The compensations run because of this failure (none for `Finished`).
    pub fn compensations(&self) -> &[CompensationReport] {
        match self {
            SagaError::StepFailed { compensations, .. } => compensations,
            SagaError::Finished { .. } => &[],
        }
    }
}

impl Saga {
    pub(super) fn new(operation: Operation) -> Self {
        Saga {
            operation: Some(operation),
            completed: Vec::new(),
        }
    }

    /// The saga's operation id (its steps' `operation.parent`).
    pub fn id(&self) -> Option<Uuid> {
        self.operation.as_ref().map(Operation::id)
    }

    /// Runs a step that needs no compensation (a read, a notification).
    pub async fn step<T, E, F>(&mut self, name: &str, work: F) -> Result<T, SagaError<E>>
    where
        F: Future<Output = Result<T, E>>,
        T: Serialize,
        E: Display,
    {
        self.run(
            name,
            work,
            None::<fn(&T) -> std::future::Ready<Result<(), String>>>,
        )
        .await
    }

    /// Runs a step; if a later step fails, `compensate` (given this step's result) undoes it.
    pub async fn step_compensable<T, E, F, C, CF, CE>(
        &mut self,
        name: &str,
        work: F,
        compensate: C,
    ) -> Result<T, SagaError<E>>
    where
        F: Future<Output = Result<T, E>>,
        T: Serialize,
        E: Display,
        C: FnOnce(&T) -> CF,
        CF: Future<Output = Result<(), CE>> + Send + 'static,
        CE: Display,
    {
        self.run(name, work, Some(compensate)).await
    }

    async fn run<T, E, F, C, CF, CE>(
        &mut self,
        name: &str,
        work: F,
        compensate: Option<C>,
    ) -> Result<T, SagaError<E>>
    where
        F: Future<Output = Result<T, E>>,
        T: Serialize,
        E: Display,
        C: FnOnce(&T) -> CF,
        CF: Future<Output = Result<(), CE>> + Send + 'static,
        CE: Display,
    {
        let Some(saga) = self.operation.as_ref() else {
            return Err(SagaError::Finished {
                step: name.to_owned(),
            });
        };
        let step = steps_of(saga, name).step_of(saga.id()).start();
        match work.await {
            Ok(value) => {
                let id = step.id();
                // Futures are lazy: made now, with the result at hand, run only if needed.
                let compensation = compensate.map(|compensate| {
                    let future = compensate(&value);
                    Box::pin(async move { future.await.map_err(|e| e.to_string()) }) as Compensation
                });
                step.succeed(&value);
                self.completed.push(Completed {
                    id,
                    name: name.to_owned(),
                    compensation,
                });
                Ok(value)
            }
            Err(error) => {
                step.fail(&error, false);
                let compensations = self
                    .compensate(&format!("step `{name}` failed: {error}"))
                    .await;
                if let Some(saga) = self.operation.take() {
                    let failed = compensations.iter().filter(|c| c.result.is_err()).count();
                    let message = if failed == 0 {
                        format!("step `{name}` failed: {error}")
                    } else {
                        format!(
                            "step `{name}` failed: {error}; {failed} compensation(s) failed too"
                        )
                    };
                    saga.fail(message, false);
                }
                Err(SagaError::StepFailed {
                    step: name.to_owned(),
                    error,
                    compensations,
                })
            }
        }
    }

    /// Records the saga's success, with `result`.
    pub fn complete(mut self, result: impl Serialize) {
        if let Some(saga) = self.operation.take() {
            saga.succeed(result);
        }
    }

    /// Gives up (for a reason outside the steps): compensates the completed steps in reverse
    /// order and records the saga as failed with `reason`.
    pub async fn abort(mut self, reason: impl Display) -> Vec<CompensationReport> {
        let reason = reason.to_string();
        let reports = self.compensate(&reason).await;
        if let Some(saga) = self.operation.take() {
            saga.fail(reason, false);
        }
        reports
    }

    /// Runs each completed step's compensation, last first, each audited as an operation
    /// linked to its step; a failed compensation does not stop the others.
    async fn compensate(&mut self, reason: &str) -> Vec<CompensationReport> {
        let mut reports = Vec::new();
        let Some(saga) = self.operation.as_ref() else {
            return reports;
        };
        while let Some(step) = self.completed.pop() {
            let Some(compensation) = step.compensation else {
                continue;
            };
            let audit = steps_of(saga, &format!("{}.compensate", step.name))
                .compensates(step.id, reason)
                .start();
            let result = compensation.await;
            match &result {
                Ok(()) => audit.succeed(()),
                Err(error) => audit.fail(error, true),
            }
            reports.push(CompensationReport {
                step: step.name,
                step_id: step.id,
                result,
            });
        }
        reports
    }
}

/// An operation named `name` acting for the same user, tenant, tags and correlation as `saga`.
fn steps_of(saga: &Operation, name: &str) -> OperationBuilder {
    let mut builder = saga.auditor.operation(name);
    let t = &saga.template;
    builder.template.user.clone_from(&t.user);
    builder.template.tenant.clone_from(&t.tenant);
    builder.template.tags.clone_from(&t.tags);
    builder
        .template
        .correlation_id
        .clone_from(&t.correlation_id);
    builder
}

impl std::fmt::Debug for Saga {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saga")
            .field("operation", &self.operation)
            .field("completed", &self.completed.len())
            .finish()
    }
}
