//! Subscriptions kept in a store and changed at runtime: the [`DocumentStore`] port (an S3
//! object in `eventferry_aws::s3`, a map in tests), the one read-modify-write loop every writer
//! uses ([`edit`]), and the router's refresh state ([`Live`]).
//!
//! - Writers never lose each other's change: [`edit`] reads the document and its version, edits
//!   it, validates the result with the router's own code, and writes it only if the version is
//!   still the one read; on a conflict it reads again and re-applies the edit.
//! - The router serves the last good version: [`Live::refresh`] swaps in a new version only when
//!   it is valid, and otherwise keeps the old one and says why.

use std::time::{Duration, Instant};

use super::model::{Config, ConfigError};
use super::store::{Document, EditError};
use super::Format;

/// What a conditional read of the document found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Still the version the caller holds.
    Unchanged,
    /// The document's text and its version (an ETag).
    Found { text: String, version: String },
    /// There is no document yet: no subscriptions.
    Missing,
}

/// A store call that failed (unreachable, access denied, ...), in the adapter's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreFailure(pub String);

/// Where the document lives, behind a port.
#[allow(async_fn_in_trait)]
pub trait DocumentStore: Send + Sync {
    /// Names the document in messages, e.g. `s3://bucket/subscriptions.json`.
    fn location(&self) -> String;
    /// Reads the document, unless its version is still `known`.
    async fn fetch(&self, known: Option<&str>) -> Result<Fetched, StoreFailure>;
    /// Writes `text` if the document is still at `expect` (`None`: it must not exist yet).
    /// `Ok(Some(version))` when written, `Ok(None)` when somebody else wrote first.
    async fn put(&self, text: String, expect: Option<&str>)
        -> Result<Option<String>, StoreFailure>;
}

/// Why an edit of the stored document did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{location}: {source}")]
    Store {
        location: String,
        source: StoreFailure,
    },
    /// The stored document is invalid: an edit cannot be validated against it.
    #[error("the stored document {location} is invalid ({source}); fix it with `eventferry subscriptions apply -f FILE`")]
    Corrupt {
        location: String,
        source: ConfigError,
    },
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error("{location}: {attempts} writers in a row changed the document first; try again")]
    Contended { location: String, attempts: u32 },
}

/// An edit that was stored.
#[derive(Debug)]
pub struct Edited<T> {
    pub value: T,
    /// The version written, or read when the edit changed nothing.
    pub version: String,
    /// Writes tried, 1 when nobody else wrote meanwhile.
    pub attempts: u32,
}

/// How often [`edit`] reads again after a conflict before it gives up.
pub const EDIT_ATTEMPTS: u32 = 10;

/// Reads the document (and its version), applies `change`, and writes the result only if
/// nobody wrote since; on a conflict, again from a fresh read. `change` returns `Ok(None)` to
/// store nothing (a read), `Ok(Some(value))` to store the edited document.
pub async fn edit<S, T>(
    store: &S,
    mut change: impl FnMut(&mut Document) -> Result<Option<T>, EditError>,
) -> Result<Edited<Option<T>>, StoreError>
where
    S: DocumentStore,
{
    let location = store.location();
    let failure = |source| StoreError::Store {
        location: location.clone(),
        source,
    };
    for attempt in 1..=EDIT_ATTEMPTS {
        let (mut document, version) = match store.fetch(None).await.map_err(failure)? {
            Fetched::Found { text, version } => {
                let (document, _) =
                    Document::parse(&text, Format::Json, &location).map_err(|source| {
                        StoreError::Corrupt {
                            location: location.clone(),
                            source,
                        }
                    })?;
                (document, Some(version))
            }
            Fetched::Missing | Fetched::Unchanged => (Document::default(), None),
        };
        let Some(value) = change(&mut document)? else {
            return Ok(Edited {
                value: None,
                version: version.unwrap_or_default(),
                attempts: attempt,
            });
        };
        match store
            .put(document.to_json(), version.as_deref())
            .await
            .map_err(failure)?
        {
            Some(version) => {
                return Ok(Edited {
                    value: Some(value),
                    version,
                    attempts: attempt,
                })
            }
            None => continue,
        }
    }
    Err(StoreError::Contended {
        location,
        attempts: EDIT_ATTEMPTS,
    })
}

/// Stores `document` whatever the store holds now, an invalid document included (`apply` of a
/// file over a broken store), still conditionally on the version read, so that a concurrent
/// writer is not overwritten unseen: on a conflict it reads again and overwrites that.
pub async fn overwrite<S: DocumentStore>(
    store: &S,
    document: &Document,
) -> Result<Edited<()>, StoreError> {
    let location = store.location();
    let failure = |source| StoreError::Store {
        location: location.clone(),
        source,
    };
    for attempt in 1..=EDIT_ATTEMPTS {
        let version = match store.fetch(None).await.map_err(failure)? {
            Fetched::Found { version, .. } => Some(version),
            Fetched::Missing | Fetched::Unchanged => None,
        };
        if let Some(version) = store
            .put(document.to_json(), version.as_deref())
            .await
            .map_err(failure)?
        {
            return Ok(Edited {
                value: (),
                version,
                attempts: attempt,
            });
        }
    }
    Err(StoreError::Contended {
        location,
        attempts: EDIT_ATTEMPTS,
    })
}

/// The router's view of the store: which version it serves, when it last looked, and whether
/// the last look failed.
#[derive(Debug)]
pub struct Live {
    interval: Duration,
    /// The version served; `None` before the first good read. An absent document is version
    /// `"absent"`.
    version: Option<String>,
    checked: Option<Instant>,
    /// Why the last refresh kept the old version.
    stale: Option<String>,
}

/// The version [`Live`] reports for a store without a document.
pub const ABSENT: &str = "absent";

/// What one refresh did.
#[derive(Debug)]
pub enum Refresh {
    /// Not due yet, or the version is unchanged.
    Unchanged,
    /// A new valid version: serve `config` from now on.
    Updated {
        config: Config,
        version: String,
        previous: Option<String>,
    },
    /// The store could not be read, or holds an invalid document: the last good version (if
    /// any) stays.
    Kept { reason: String },
}

impl Live {
    pub fn new(interval: Duration) -> Live {
        Live {
            interval,
            version: None,
            checked: None,
            stale: None,
        }
    }

    /// The version served, if any was ever loaded.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Why the version served is not the store's (the last refresh failed), if it is not.
    pub fn stale(&self) -> Option<&str> {
        self.stale.as_deref()
    }

    /// Whether a refresh is due at `now`: always before the first good read.
    pub fn due(&self, now: Instant) -> bool {
        self.version.is_none()
            || self
                .checked
                .is_none_or(|t| now.duration_since(t) >= self.interval)
    }

    /// Reads the store if due, and says what to serve.
    pub async fn refresh<S: DocumentStore>(&mut self, store: &S, now: Instant) -> Refresh {
        if !self.due(now) {
            return Refresh::Unchanged;
        }
        self.checked = Some(now);
        let known = self.version.as_deref().filter(|v| *v != ABSENT);
        let (config, version) = match store.fetch(known).await {
            Ok(Fetched::Unchanged) => {
                self.stale = None;
                return Refresh::Unchanged;
            }
            Ok(Fetched::Missing) => (Config::default(), ABSENT.to_owned()),
            Ok(Fetched::Found { text, version }) => {
                let origin = format!("{} (version {version})", store.location());
                match Config::parse(&text, Format::Json, &origin) {
                    Ok(config) => (config, version),
                    Err(e) => return self.keep(format!("invalid document: {e}")),
                }
            }
            Err(e) => return self.keep(format!("{}: {e}", store.location())),
        };
        self.stale = None;
        if self.version.as_deref() == Some(version.as_str()) {
            return Refresh::Unchanged;
        }
        let previous = self.version.replace(version.clone());
        Refresh::Updated {
            config,
            version,
            previous,
        }
    }

    fn keep(&mut self, reason: String) -> Refresh {
        self.stale = Some(reason.clone());
        Refresh::Kept { reason }
    }
}

#[cfg(test)]
mod tests;
