//! Users, todos and the unit of work over one shared in-memory data set.
//!
//! Users and todos live behind one `tokio::sync::RwLock`, because a transaction must be able
//! to change both atomically. An async lock (not `std::sync`) because a transaction holds
//! the write lock across `.await`s until it commits: ordinary reads and writes simply wait
//! for it, which is the isolation the unit-of-work contract asks for.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use domain::{
    error::{InfraError, RepositoryError},
    ports::{
        IdempotencyRecords, Outbox, TodoQuery, TodoRepository, Transaction, UnitOfWork,
        UserRepository,
    },
    todo::{DueDate, Todo, TodoId, TodoStatus, Version},
    user::{Email, User, UserId},
};
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

use crate::{
    idempotency::{MemoryIdempotencyRecords, SharedRecords},
    queue::{MemoryJobQueue, MemoryOutbox, SharedQueue},
};

/// Everything the in-memory repositories hold. Cloned whole when a transaction starts.
#[derive(Debug, Clone, Default)]
struct Data {
    users: BTreeMap<UserId, User>,
    /// The unique index on email, as the database has one.
    user_ids_by_email: HashMap<Email, UserId>,
    /// Ordered by id, which is creation order, so "newest first" is a reverse range scan.
    todos: BTreeMap<TodoId, Todo>,
}

type Shared = Arc<RwLock<Data>>;

/// One in-memory data set, from which the repositories and the unit of work are made.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    data: Shared,
    /// The outbox's jobs: outside `Data`, so that a transaction does not copy them.
    queue: SharedQueue,
    /// The idempotency records, outside `Data` for the same reason.
    idempotency: SharedRecords,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The user repository over this store.
    pub fn users(&self) -> MemoryUserRepository {
        MemoryUserRepository {
            data: self.data.clone(),
        }
    }

    /// The todo repository over this store.
    pub fn todos(&self) -> MemoryTodoRepository {
        MemoryTodoRepository {
            data: self.data.clone(),
        }
    }

    /// The unit of work over this store.
    pub fn unit_of_work(&self) -> MemoryUnitOfWork {
        MemoryUnitOfWork {
            data: self.data.clone(),
            queue: self.queue.clone(),
            idempotency: self.idempotency.clone(),
        }
    }

    /// The idempotency records of this store, outside any transaction.
    pub fn idempotency(&self) -> MemoryIdempotencyRecords {
        MemoryIdempotencyRecords {
            records: self.idempotency.clone(),
            staged: None,
        }
    }

    /// The job queue that this store's outbox fills.
    pub fn job_queue(&self) -> MemoryJobQueue {
        MemoryJobQueue {
            queue: self.queue.clone(),
        }
    }
}

/// [`UserRepository`] in memory.
#[derive(Debug, Clone)]
pub struct MemoryUserRepository {
    data: Shared,
}

#[async_trait]
impl UserRepository for MemoryUserRepository {
    async fn insert(&self, user: &User) -> Result<(), RepositoryError> {
        let mut data = self.data.write().await;
        if data.users.contains_key(&user.id) {
            return Err(RepositoryError::Duplicate("id"));
        }
        if data.user_ids_by_email.contains_key(&user.email) {
            return Err(RepositoryError::Duplicate("email"));
        }
        data.user_ids_by_email.insert(user.email.clone(), user.id);
        data.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, InfraError> {
        Ok(self.data.read().await.users.get(&id).cloned())
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, InfraError> {
        let data = self.data.read().await;
        Ok(data
            .user_ids_by_email
            .get(email)
            .and_then(|id| data.users.get(id))
            .cloned())
    }

    async fn list(&self, before: Option<UserId>, limit: u32) -> Result<Vec<User>, InfraError> {
        let data = self.data.read().await;
        let older = match before {
            Some(cursor) => data.users.range(..cursor),
            None => data.users.range(..),
        };
        Ok(older
            .rev()
            .take(limit as usize)
            .map(|(_, user)| user.clone())
            .collect())
    }
}

/// [`TodoRepository`] in memory.
#[derive(Debug, Clone)]
pub struct MemoryTodoRepository {
    data: Shared,
}

impl MemoryTodoRepository {
    /// The compare-and-set check shared by update and delete.
    fn check_version(data: &Data, id: TodoId, expected: Version) -> Result<(), RepositoryError> {
        match data.todos.get(&id) {
            None => Err(RepositoryError::NotFound),
            Some(stored) if stored.version() != expected => Err(RepositoryError::VersionConflict),
            Some(_) => Ok(()),
        }
    }
}

#[async_trait]
impl TodoRepository for MemoryTodoRepository {
    async fn insert(&self, todo: &Todo) -> Result<(), RepositoryError> {
        let mut data = self.data.write().await;
        if data.todos.contains_key(&todo.id()) {
            return Err(RepositoryError::Duplicate("id"));
        }
        // The foreign key the database has: a todo needs an existing owner.
        if !data.users.contains_key(&todo.owner()) {
            return Err(RepositoryError::UnknownReference("owner"));
        }
        data.todos.insert(todo.id(), todo.clone());
        Ok(())
    }

    async fn get(&self, id: TodoId) -> Result<Option<Todo>, InfraError> {
        Ok(self.data.read().await.todos.get(&id).cloned())
    }

    async fn update(&self, todo: &Todo, expected: Version) -> Result<(), RepositoryError> {
        // Check and write under one write lock: that is what makes it a compare-and-set.
        let mut data = self.data.write().await;
        Self::check_version(&data, todo.id(), expected)?;
        data.todos.insert(todo.id(), todo.clone());
        Ok(())
    }

    async fn delete(&self, id: TodoId, expected: Version) -> Result<(), RepositoryError> {
        let mut data = self.data.write().await;
        Self::check_version(&data, id, expected)?;
        data.todos.remove(&id);
        Ok(())
    }

    async fn list(&self, query: &TodoQuery) -> Result<Vec<Todo>, InfraError> {
        let data = self.data.read().await;
        let older = match query.before {
            Some(cursor) => data.todos.range(..cursor),
            None => data.todos.range(..),
        };
        // A full scan: fine for a fake and for a demo, and the reason the real adapter has
        // indexes.
        Ok(older
            .rev()
            .map(|(_, todo)| todo)
            .filter(|todo| todo.owner() == query.owner)
            .filter(|todo| query.status.is_none_or(|status| todo.status() == status))
            .filter(|todo| {
                query
                    .tag
                    .as_ref()
                    .is_none_or(|tag| todo.tags().contains(tag))
            })
            .take(query.limit as usize)
            .cloned()
            .collect())
    }

    async fn open_due_between(
        &self,
        first: DueDate,
        last: DueDate,
        after: Option<TodoId>,
        limit: u32,
    ) -> Result<Vec<Todo>, InfraError> {
        let data = self.data.read().await;
        let newer = match after {
            Some(cursor) => data.todos.range((
                std::ops::Bound::Excluded(cursor),
                std::ops::Bound::Unbounded,
            )),
            None => data.todos.range(..),
        };
        Ok(newer
            .map(|(_, todo)| todo)
            .filter(|todo| todo.status() == TodoStatus::Open)
            .filter(|todo| todo.due_date().is_some_and(|d| first <= d && d <= last))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn count_by_owner(
        &self,
        owners: &[UserId],
        status: Option<TodoStatus>,
    ) -> Result<HashMap<UserId, u64>, InfraError> {
        let data = self.data.read().await;
        let mut counts: HashMap<UserId, u64> = owners.iter().map(|o| (*o, 0)).collect();
        for todo in data.todos.values() {
            if status.is_none_or(|s| todo.status() == s)
                && let Some(count) = counts.get_mut(&todo.owner())
            {
                *count += 1;
            }
        }
        Ok(counts)
    }
}

/// [`UnitOfWork`] in memory: a transaction holds the store's write lock and works on a
/// staged copy, which replaces the data only at commit.
#[derive(Debug, Clone)]
pub struct MemoryUnitOfWork {
    data: Shared,
    queue: SharedQueue,
    idempotency: SharedRecords,
}

#[async_trait]
impl UnitOfWork for MemoryUnitOfWork {
    async fn begin(&self) -> Result<Box<dyn Transaction>, InfraError> {
        let live = self.data.clone().write_owned().await;
        let staged: Shared = Arc::new(RwLock::new(live.clone()));
        let outbox = MemoryOutbox {
            queue: self.queue.clone(),
            staged: Arc::new(Mutex::new(Vec::new())),
        };
        Ok(Box::new(MemoryTransaction {
            live,
            staged,
            outbox,
            idempotency: MemoryIdempotencyRecords {
                records: self.idempotency.clone(),
                staged: Some(Arc::default()),
            },
        }))
    }
}

/// An open in-memory transaction. Dropping it releases the lock and forgets the staged copy.
struct MemoryTransaction {
    /// Held until commit or drop, so nobody else reads or writes in between.
    live: OwnedRwLockWriteGuard<Data>,
    /// Where the transaction's repositories write.
    staged: Shared,
    /// Where the transaction's outbox stages its messages.
    outbox: MemoryOutbox,
    /// Where the transaction stages its idempotency records.
    idempotency: MemoryIdempotencyRecords,
}

impl std::fmt::Debug for MemoryTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTransaction").finish_non_exhaustive()
    }
}

#[async_trait]
impl Transaction for MemoryTransaction {
    fn users(&self) -> Arc<dyn UserRepository> {
        Arc::new(MemoryUserRepository {
            data: self.staged.clone(),
        })
    }

    fn todos(&self) -> Arc<dyn TodoRepository> {
        Arc::new(MemoryTodoRepository {
            data: self.staged.clone(),
        })
    }

    fn outbox(&self) -> Arc<dyn Outbox> {
        Arc::new(self.outbox.clone())
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyRecords> {
        Arc::new(self.idempotency.clone())
    }

    async fn commit(self: Box<Self>) -> Result<(), InfraError> {
        let MemoryTransaction {
            mut live,
            staged,
            outbox,
            idempotency,
        } = *self;
        let messages = std::mem::take(
            &mut *outbox
                .staged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        *live = staged.read().await.clone();
        if let Some(records) = &idempotency.staged {
            let records = std::mem::take(
                &mut *records
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            MemoryIdempotencyRecords::apply(&idempotency.records, records);
        }
        // Still under the write lock: the change and its messages appear together.
        outbox
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(messages, chrono::Utc::now());
        Ok(())
    }
}
