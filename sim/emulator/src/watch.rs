//! `?watch=true` on the list endpoints: the chunked stream of JSON watch events kubectl and
//! client-go read, one `{"type": "ADDED" | "MODIFIED" | "DELETED", "object": ...}` per line, so
//! `kubectl get nodes -w` and `kubectl get pods -w` follow the emulated cluster.
//!
//! The store keeps no history of changes, so a watch observes it: every [`POLL`] it takes the
//! objects the request selects (namespace, `labelSelector`, `fieldSelector`) and compares them, by
//! key and `resourceVersion`, with what it has sent ([`diff`]). What follows from that, also in
//! docs/EMULATOR.md:
//! - changes within one poll arrive as one MODIFIED with the latest state (as after a relist);
//! - an object that stops matching the selectors, or is removed, arrives as DELETED with its last
//!   state and the store's resource version at that poll;
//! - without `resourceVersion` (or with `0`) every selected object is first sent as ADDED, as the
//!   API server does; with `resourceVersion=N` the objects changed after N are sent as MODIFIED
//!   (created and changed cannot be told apart there) and objects removed between N and the start
//!   of the watch are not reported;
//! - `timeoutSeconds` ends the stream after that long; bookmarks are never sent.

use super::api::{selected, Params};
use super::store::Stored;
use super::{table, AppState};
use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::Response;
use chrono::Utc;
use futures_core::Stream;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// How often a watch looks at the store.
pub const POLL: Duration = Duration::from_millis(100);

/// What happened to an object, as the watch event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The watcher sees the object for the first time.
    Added,
    /// The object changed since the watcher last saw it.
    Modified,
    /// The object is gone, or no longer selected.
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// The objects a watcher has been sent, by `namespace/name`, with the `resourceVersion` it saw
/// (empty: must be sent again as MODIFIED).
#[derive(Debug, Default, Clone)]
pub struct Seen(BTreeMap<String, (String, Value)>);

fn key(o: &Value) -> String {
    format!(
        "{}/{}",
        o["metadata"]["namespace"].as_str().unwrap_or_default(),
        o["metadata"]["name"].as_str().unwrap_or_default()
    )
}

fn resource_version(o: &Value) -> String {
    o["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

impl Seen {
    /// The starting point of a watch over `current` from `resource_version`: nothing for `None`,
    /// empty or `"0"` (every object is then ADDED); otherwise every current object, those changed
    /// after that version marked to be sent as MODIFIED. A version that is not a number is treated
    /// as `"0"`.
    pub fn starting_at(resource_version: Option<&str>, current: &[Value]) -> Seen {
        let Some(from) = resource_version
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v > 0)
        else {
            return Seen::default();
        };
        Seen(
            current
                .iter()
                .map(|o| {
                    let rv = self::resource_version(o);
                    let seen_rv = if rv.parse::<u64>().is_ok_and(|v| v <= from) {
                        rv
                    } else {
                        String::new()
                    };
                    (key(o), (seen_rv, o.clone()))
                })
                .collect(),
        )
    }
}

/// The events that take a watcher from `seen` to `current`, and `seen` updated to match:
/// ADDED and MODIFIED in `resourceVersion` order, then DELETED for what is no longer in
/// `current`, carrying `revision` (the store's version at this look) as their resource version.
pub fn diff(seen: &mut Seen, current: Vec<Value>, revision: u64) -> Vec<(EventType, Value)> {
    let mut changed: Vec<(EventType, Value)> = Vec::new();
    let mut now = BTreeMap::new();
    for o in current {
        let (k, rv) = (key(&o), resource_version(&o));
        match seen.0.get(&k) {
            None => changed.push((EventType::Added, o.clone())),
            Some((before, _)) if *before != rv => changed.push((EventType::Modified, o.clone())),
            Some(_) => {}
        }
        now.insert(k, (rv, o));
    }
    changed.sort_by_key(|(_, o)| resource_version(o).parse::<u64>().unwrap_or(0));
    for (k, (_, mut last)) in std::mem::take(&mut seen.0) {
        if !now.contains_key(&k) {
            last["metadata"]["resourceVersion"] = json!(revision.to_string());
            changed.push((EventType::Deleted, last));
        }
    }
    seen.0 = now;
    changed
}

/// The stream of one watch request on kind `T`.
struct Watch<T> {
    state: AppState,
    namespace: Option<String>,
    query: Params,
    as_table: bool,
    seen: Option<Seen>,
    ticks: Interval,
    deadline: Option<Instant>,
    pending: VecDeque<Bytes>,
    kind: PhantomData<fn() -> T>,
}

impl<T: Stored> Watch<T> {
    /// Looks at the store once and queues the events since the last look.
    fn look(&mut self) {
        let (current, revision) = {
            let store = self.state.store.lock().unwrap_or_else(|p| p.into_inner());
            (
                selected::<T>(&store, self.namespace.as_ref(), &self.query),
                store.revision(),
            )
        };
        let seen = self.seen.get_or_insert_with(|| {
            Seen::starting_at(
                self.query.get("resourceVersion").map(String::as_str),
                &current,
            )
        });
        for (kind, object) in diff(seen, current, revision) {
            let object = if self.as_table {
                let rv = resource_version(&object);
                table::render::<T>(&[object], &rv, Utc::now())
            } else {
                object
            };
            let mut line = serde_json::to_vec(&json!({"type": kind.as_str(), "object": object}))
                .unwrap_or_default();
            line.push(b'\n');
            self.pending.push_back(Bytes::from(line));
        }
    }
}

impl<T: Stored> Stream for Watch<T> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(line) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(line)));
            }
            if this.deadline.is_some_and(|d| Instant::now() >= d) {
                return Poll::Ready(None);
            }
            ready!(this.ticks.poll_tick(cx));
            this.look();
        }
    }
}

/// The response to `GET <list path>?watch=true`: status 200 and the event stream, which ends
/// after `timeoutSeconds` when given, or when the client goes away. `as_table` sends each object
/// as a one-row `meta.k8s.io/v1` Table (what `kubectl get -w` asks for).
pub fn respond<T: Stored>(
    state: AppState,
    namespace: Option<String>,
    query: Params,
    as_table: bool,
) -> Response {
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = query
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| Instant::now() + Duration::from_secs(s));
    let watch = Watch::<T> {
        state,
        namespace,
        query,
        as_table,
        seen: None,
        ticks,
        deadline,
        pending: VecDeque::new(),
        kind: PhantomData,
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(watch))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, rv: u64, ready: bool) -> Value {
        json!({"metadata": {"name": name, "resourceVersion": rv.to_string()},
               "status": {"ready": ready}})
    }

    fn names(events: &[(EventType, Value)]) -> Vec<(EventType, String, String)> {
        events
            .iter()
            .map(|(t, o)| (*t, key(o), resource_version(o)))
            .collect()
    }

    #[test]
    fn diffs_between_looks() {
        use EventType::*;
        type Case = (
            &'static str,
            Vec<Value>,
            Vec<Value>,
            Vec<(EventType, &'static str, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            (
                "first look: everything added, in resourceVersion order",
                vec![],
                vec![node("b", 7, true), node("a", 3, true)],
                vec![(Added, "/a", "3"), (Added, "/b", "7")],
            ),
            (
                "unchanged: nothing",
                vec![node("a", 3, true)],
                vec![node("a", 3, true)],
                vec![],
            ),
            (
                "a node joins",
                vec![node("a", 3, true)],
                vec![node("a", 3, true), node("w9", 12, false)],
                vec![(Added, "/w9", "12")],
            ),
            (
                "a node turns Ready",
                vec![node("w9", 12, false)],
                vec![node("w9", 15, true)],
                vec![(Modified, "/w9", "15")],
            ),
            (
                "a node is deleted: its last state at the store's revision",
                vec![node("a", 3, true), node("w9", 15, true)],
                vec![node("a", 3, true)],
                vec![(Deleted, "/w9", "20")],
            ),
        ];
        for (name, before, after, want) in cases {
            let mut seen = Seen::default();
            diff(&mut seen, before, 10);
            let got = names(&diff(&mut seen, after, 20));
            let want: Vec<_> = want
                .into_iter()
                .map(|(t, k, rv)| (t, k.to_owned(), rv.to_owned()))
                .collect();
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn starting_points() {
        use EventType::*;
        type Case = (
            &'static str,
            Option<&'static str>,
            Vec<(EventType, &'static str, &'static str)>,
        );
        let current = vec![node("a", 3, true), node("b", 8, true)];
        let cases: Vec<Case> = vec![
            (
                "no version: all added",
                None,
                vec![(Added, "/a", "3"), (Added, "/b", "8")],
            ),
            (
                "version 0: all added",
                Some("0"),
                vec![(Added, "/a", "3"), (Added, "/b", "8")],
            ),
            (
                "from 5: what changed after it",
                Some("5"),
                vec![(Modified, "/b", "8")],
            ),
            ("from the list's version: nothing", Some("8"), vec![]),
            (
                "not a number: all added",
                Some("x"),
                vec![(Added, "/a", "3"), (Added, "/b", "8")],
            ),
        ];
        for (name, from, want) in cases {
            let mut seen = Seen::starting_at(from, &current);
            let got = names(&diff(&mut seen, current.clone(), 8));
            let want: Vec<_> = want
                .into_iter()
                .map(|(t, k, rv)| (t, k.to_owned(), rv.to_owned()))
                .collect();
            assert_eq!(got, want, "case {name}");
        }
    }
}
