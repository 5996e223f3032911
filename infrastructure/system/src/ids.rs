//! New ids: UUIDv7.

use domain::ports::IdGenerator;
use uuid::Uuid;

/// Makes UUIDv7 ids: a millisecond timestamp followed by random bits.
///
/// `Uuid::now_v7` keeps a process-wide counter inside each millisecond, so the ids it returns
/// are strictly increasing even when many are made in the same millisecond, which the
/// [`IdGenerator`] port requires for cursor pagination.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Generator;

impl IdGenerator for UuidV7Generator {
    fn generate(&self) -> Uuid {
        Uuid::now_v7()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_and_strictly_increasing() {
        let ids: Vec<Uuid> = (0..10_000).map(|_| UuidV7Generator.generate()).collect();
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "ids must sort in creation order"
        );
    }

    #[test]
    fn ids_from_many_threads_never_repeat() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..5_000)
                        .map(|_| UuidV7Generator.generate())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<Uuid> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let total = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), total);
    }
}
