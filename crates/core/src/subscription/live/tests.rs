//! [`edit`] and [`Live`] against an in-memory [`DocumentStore`] that behaves like a
//! conditionally written object (a version per write, writes refused on a stale version).

use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::subscription::store::NewEntry;
use crate::subscription::Kind;

#[derive(Default)]
struct Memory {
    /// (text, version) of the document.
    doc: Mutex<Option<(String, u32)>>,
    writes: Mutex<u32>,
    /// Fails every call with this message.
    down: Mutex<Option<String>>,
    /// Before the next put, somebody else stores this text.
    interloper: Mutex<Option<String>>,
}

impl Memory {
    fn set(&self, text: &str) {
        let mut doc = self.doc.lock().unwrap();
        let next = doc.as_ref().map_or(1, |(_, v)| v + 1);
        *doc = Some((text.to_owned(), next));
    }
    fn check(&self) -> Result<(), StoreFailure> {
        match self.down.lock().unwrap().clone() {
            Some(m) => Err(StoreFailure(m)),
            None => Ok(()),
        }
    }
}

impl DocumentStore for Memory {
    fn location(&self) -> String {
        "memory://subscriptions.json".into()
    }
    async fn fetch(&self, known: Option<&str>) -> Result<Fetched, StoreFailure> {
        self.check()?;
        Ok(match &*self.doc.lock().unwrap() {
            None => Fetched::Missing,
            Some((_, v)) if Some(v.to_string().as_str()) == known => Fetched::Unchanged,
            Some((text, v)) => Fetched::Found {
                text: text.clone(),
                version: v.to_string(),
            },
        })
    }
    async fn put(
        &self,
        text: String,
        expect: Option<&str>,
    ) -> Result<Option<String>, StoreFailure> {
        self.check()?;
        if let Some(other) = self.interloper.lock().unwrap().take() {
            self.set(&other);
        }
        let mut doc = self.doc.lock().unwrap();
        let current = doc.as_ref().map(|(_, v)| v.to_string());
        if current.as_deref() != expect {
            return Ok(None);
        }
        let next = doc.as_ref().map_or(1, |(_, v)| v + 1);
        *doc = Some((text, next));
        *self.writes.lock().unwrap() += 1;
        Ok(Some(next.to_string()))
    }
}

fn entry(name: &str, ty: &str) -> serde_json::Value {
    NewEntry {
        name: name.into(),
        types: vec![ty.into()],
        function: Some(format!("fn-{name}")),
        ..NewEntry::default()
    }
    .to_value()
}

async fn create(store: &Memory, name: &str) -> Result<Edited<Option<()>>, StoreError> {
    edit(store, |d| {
        d.create(Kind::Subscription, entry(name, "aws.s3"), "now")
            .map(|_| Some(()))
    })
    .await
}

#[tokio::test]
async fn a_conflicting_write_is_read_again_and_both_changes_survive() {
    let store = Memory::default();
    create(&store, "first").await.unwrap();
    // Between our read and our write, another writer adds "second".
    let mut theirs = Document::default();
    for name in ["first", "second"] {
        theirs
            .create(Kind::Subscription, entry(name, "aws.s3"), "now")
            .unwrap();
    }
    *store.interloper.lock().unwrap() = Some(theirs.to_json());
    let edited = create(&store, "third").await.unwrap();
    assert_eq!(edited.attempts, 2, "the first write met the conflict");
    let Fetched::Found { text, .. } = store.fetch(None).await.unwrap() else {
        panic!("stored")
    };
    let (doc, _) = Document::parse(&text, Format::Json, "t").unwrap();
    for name in ["first", "second", "third"] {
        assert!(doc.get(name).is_some(), "{name} was lost: {text}");
    }
}

#[tokio::test]
async fn concurrent_creates_both_survive() {
    let store = Memory::default();
    let (a, b) = tokio::join!(create(&store, "a"), create(&store, "b"));
    a.unwrap();
    b.unwrap();
    let Fetched::Found { text, .. } = store.fetch(None).await.unwrap() else {
        panic!("stored")
    };
    assert!(text.contains("\"a\"") && text.contains("\"b\""), "{text}");
}

#[tokio::test]
async fn an_invalid_edit_writes_nothing_and_a_corrupt_document_is_named() {
    let store = Memory::default();
    let bad = edit(&store, |d| {
        d.create(Kind::Subscription, json!({"name": "x"}), "now")
            .map(|_| Some(()))
    })
    .await
    .unwrap_err();
    assert!(bad.to_string().contains("\"x\""), "{bad}");
    assert_eq!(*store.writes.lock().unwrap(), 0);
    store.set("{\"subscriptions\": 3}");
    let corrupt = create(&store, "y").await.unwrap_err();
    assert!(
        corrupt.to_string().contains("memory://subscriptions.json")
            && corrupt.to_string().contains("apply -f"),
        "{corrupt}"
    );
}

#[tokio::test]
async fn overwrite_replaces_an_invalid_document() {
    let store = Memory::default();
    store.set("{\"subscriptions\": 3}");
    let mut fixed = Document::default();
    fixed
        .create(Kind::Subscription, entry("a", "aws.s3"), "now")
        .unwrap();
    overwrite(&store, &fixed).await.unwrap();
    create(&store, "b").await.unwrap();
    assert_eq!(*store.writes.lock().unwrap(), 2);
}

#[tokio::test]
async fn live_serves_the_last_good_version_and_says_why() {
    let store = Memory::default();
    let mut live = Live::new(Duration::from_secs(30));
    let t0 = Instant::now();
    // No document yet: an empty, valid version.
    match live.refresh(&store, t0).await {
        Refresh::Updated {
            config, version, ..
        } => {
            assert!(config.subscriptions.is_empty());
            assert_eq!(version, ABSENT);
        }
        other => panic!("{other:?}"),
    }
    create(&store, "a").await.unwrap();
    // Not due before the interval.
    assert!(matches!(live.refresh(&store, t0).await, Refresh::Unchanged));
    let t1 = t0 + Duration::from_secs(30);
    let Refresh::Updated { config, .. } = live.refresh(&store, t1).await else {
        panic!("the new version")
    };
    assert_eq!(&*config.subscriptions[0].name, "a");
    let good = live.version().unwrap().to_owned();
    // Invalid document: kept, with the reason.
    store.set("{\"subscriptions\": [{\"name\": \"b\"}]}");
    let t2 = t1 + Duration::from_secs(30);
    let Refresh::Kept { reason } = live.refresh(&store, t2).await else {
        panic!("kept")
    };
    assert!(
        reason.contains("invalid document") && reason.contains("\"b\""),
        "{reason}"
    );
    assert_eq!(live.version(), Some(good.as_str()));
    assert!(live.stale().is_some());
    // Unreachable: kept too.
    *store.down.lock().unwrap() = Some("connection refused".into());
    let t3 = t2 + Duration::from_secs(30);
    let Refresh::Kept { reason } = live.refresh(&store, t3).await else {
        panic!("kept")
    };
    assert!(reason.contains("connection refused"), "{reason}");
    // Back, and valid again: served, and no longer stale.
    *store.down.lock().unwrap() = None;
    create(&store, "c").await.unwrap_err(); // the stored document is still invalid
    store.set(&Document::default().to_json());
    let t4 = t3 + Duration::from_secs(30);
    assert!(matches!(
        live.refresh(&store, t4).await,
        Refresh::Updated { .. }
    ));
    assert!(live.stale().is_none());
}

#[tokio::test]
async fn before_any_good_version_every_call_reads_the_store() {
    let store = Memory::default();
    *store.down.lock().unwrap() = Some("timeout".into());
    let mut live = Live::new(Duration::from_secs(30));
    let t0 = Instant::now();
    assert!(matches!(
        live.refresh(&store, t0).await,
        Refresh::Kept { .. }
    ));
    assert!(live.due(t0), "no version yet: due at once");
    assert_eq!(live.version(), None);
}
