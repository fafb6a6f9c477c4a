//! Abandoning reads nobody wants any more. The server runs a request's reads under a
//! [`ReadCancel`] (see [`cancellable`]); once the client goes away it cancels them, and an engine
//! fails the reads not yet started and interrupts the one running.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::StoreError;

thread_local! {
    /// The [`ReadCancel`] that reads on this thread answer to (see [`cancellable`]).
    static READ_CANCEL: RefCell<Option<Arc<ReadCancel>>> = const { RefCell::new(None) };
}

/// How an engine stops a read under way (for SQLite, `sqlite3_interrupt` on its connection).
pub type Interrupt = Box<dyn Fn() + Send>;

/// A way to abandon reads from another thread (see [`cancellable`]).
#[derive(Default)]
pub struct ReadCancel {
    cancelled: AtomicBool,
    /// How to interrupt the read running for this token, while it runs. Only held under this
    /// lock, and cleared before the engine's connection serves anyone else, so that an interrupt
    /// never reaches a read made for someone else.
    running: Mutex<Option<Interrupt>>,
}

impl ReadCancel {
    /// Abandons the reads made under this token: the one running, if any, and every later one.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        if let Some(interrupt) = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            interrupt();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Registers a read as running for this token, unless it was cancelled already. The read is
    /// unregistered when the returned guard drops.
    pub fn enter(&self, interrupt: Interrupt) -> Result<Running<'_>, StoreError> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Under the lock: a `cancel` that finds no read running has set the flag before this
        // looks.
        if self.is_cancelled() {
            return Err(StoreError::Cancelled);
        }
        *running = Some(interrupt);
        Ok(Running(self))
    }
}

/// Unregisters a read when it ends.
pub struct Running<'a>(&'a ReadCancel);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        *self
            .0
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// Runs `f` on this thread with every read of a store it makes tied to `cancel`: once
/// [`ReadCancel::cancel`] is called, a read not yet started fails with
/// [`StoreError::Cancelled`] without asking the database, and one running is interrupted. The
/// server uses it so that a client that went away stops costing database time (an aggregate
/// over every entry can take seconds).
pub fn cancellable<T>(cancel: Arc<ReadCancel>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<ReadCancel>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            READ_CANCEL.set(self.0.take());
        }
    }
    let _restore = Restore(READ_CANCEL.replace(Some(cancel)));
    f()
}

/// The token reads on this thread answer to, if any (engines ask before each read).
pub fn current() -> Option<Arc<ReadCancel>> {
    READ_CANCEL.with_borrow(Clone::clone)
}
