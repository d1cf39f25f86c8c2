//! Group commit for seat writes. Every activation, heartbeat, release and borrow of this node
//! goes to one writer task, which applies whatever has queued up since its last commit in
//! one serialized write and one commit, then answers each request. An idle node commits a
//! lone request at once (nothing waits for a batch to fill); a busy one pays one commit (one
//! fsync, one hold of the store's write lock) per batch instead of per request, which is
//! what lets one node hold 100,000 floating seats (`make bench`). Nothing is acknowledged
//! before its commit: an answered activation survives a crash.
//!
//! A batch that fails for a reason of its own (a row that does not read back) is rolled back
//! and its requests are retried one by one, so one bad request gets its own error; a batch
//! the database refused (locked, unreachable) fails as a whole, every request answered with
//! that failure at once.

use tokio::sync::{mpsc, oneshot};

use super::records::{Activated, Activation, SeatChange, SeatRow, activate_in, change_in};
use crate::store::{Store, StoreError};

/// The most requests one commit carries.
const MAX_BATCH: usize = 256;
/// Requests waiting for the writer beyond this wait for room (back-pressure on the handlers).
const QUEUE: usize = 4096;

/// A seat write.
#[derive(Debug)]
enum Job {
    Activate(Activation),
    Change(SeatChange),
}

/// What a seat write did.
#[derive(Debug)]
enum Done {
    Activated(Activated),
    Changed(Option<(SeatRow, bool)>),
}

type Reply = oneshot::Sender<Result<Done, StoreError>>;

/// This node's seat writer (cheap to clone; the task ends when the last clone is dropped).
#[derive(Clone, Debug)]
pub(crate) struct SeatWriter {
    queue: mpsc::Sender<(Job, Reply)>,
}

impl SeatWriter {
    /// Starts the writer task on the current tokio runtime.
    pub(crate) fn start(store: Store) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, jobs));
        Self { queue }
    }

    async fn submit(&self, job: Job) -> Result<Done, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((job, reply))
            .await
            .map_err(|_| StoreError::TaskEnded("the seat writer"))?;
        answer
            .await
            .map_err(|_| StoreError::TaskEnded("the seat writer"))?
    }

    /// Activates a seat: the machine's own if it has one, else a free one. Counted and
    /// inserted in one serialized write, so no number of concurrent requests on any number of
    /// nodes gets past the limit.
    pub(crate) async fn activate(&self, a: Activation) -> Result<Activated, StoreError> {
        match self.submit(Job::Activate(a)).await? {
            Done::Activated(done) => Ok(done),
            Done::Changed(_) => Err(StoreError::TaskEnded("the seat writer (mixed answers)")),
        }
    }

    /// Applies a machine's change to its own seat: the seat as it now is and whether the
    /// change applied (`None`: no such seat).
    pub(crate) async fn change(
        &self,
        c: SeatChange,
    ) -> Result<Option<(SeatRow, bool)>, StoreError> {
        match self.submit(Job::Change(c)).await? {
            Done::Changed(done) => Ok(done),
            Done::Activated(_) => Err(StoreError::TaskEnded("the seat writer (mixed answers)")),
        }
    }
}

async fn run(store: Store, mut jobs: mpsc::Receiver<(Job, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (work, replies): (Vec<Job>, Vec<Reply>) = batch.drain(..).unzip();
        match apply(&store, &work).await {
            Ok(done) => {
                for (reply, done) in replies.into_iter().zip(done) {
                    let _ = reply.send(Ok(done));
                }
            }
            Err(e) if work.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(e @ StoreError::Database(_)) => {
                let why = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Batch(why.clone())));
                }
            }
            Err(_) => {
                // One request's own failure: each alone, so only it gets the error.
                for (job, reply) in work.into_iter().zip(replies) {
                    let one = apply(&store, std::slice::from_ref(&job)).await;
                    let _ = reply.send(one.and_then(|mut done| {
                        done.pop()
                            .ok_or(StoreError::TaskEnded("the seat writer (no answer)"))
                    }));
                }
            }
        }
    }
}

/// Applies `work` in one write and commits it; nothing is applied if anything fails.
async fn apply(store: &Store, work: &[Job]) -> Result<Vec<Done>, StoreError> {
    let mut w = store.write().await?;
    let mut done = Vec::with_capacity(work.len());
    for job in work {
        done.push(match job {
            Job::Activate(a) => Done::Activated(activate_in(&mut w, a).await?),
            Job::Change(c) => Done::Changed(change_in(&mut w, c).await?),
        });
    }
    w.commit().await?;
    Ok(done)
}
