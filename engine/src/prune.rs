//! One prune at a time per kind of object, as dockerd allows: a second request while one runs
//! is refused with dockerd's 409 instead of racing it over the same objects.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{EngineError, Result};

#[derive(Default)]
pub struct PruneLock(AtomicBool);

/// Held while a prune runs; dropping it (also on an error path) lets the next one start.
pub struct PruneGuard<'a>(&'a AtomicBool);

impl PruneLock {
    pub fn try_start(&self) -> Result<PruneGuard<'_>> {
        if self.0.swap(true, Ordering::SeqCst) {
            return Err(EngineError::Conflict(
                "a prune operation is already running".into(),
            ));
        }
        Ok(PruneGuard(&self.0))
    }
}

impl Drop for PruneGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_at_a_time() {
        let l = PruneLock::default();
        let g = l.try_start().unwrap();
        assert!(matches!(l.try_start(), Err(EngineError::Conflict(_))));
        drop(g);
        assert!(l.try_start().is_ok());
    }
}
