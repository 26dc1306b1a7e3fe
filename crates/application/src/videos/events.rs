//! Watching videos change, for the progress streams (`GET /api/v1/videos/{id}/events`).
//!
//! [`VideoWatch`] is one per instance. Each open stream holds a [`VideoStream`] on the
//! video it follows; one poller ([`VideoWatch::run`]) reads every watched video in a
//! single query per tick, whichever instance's worker renders it (the database is the
//! only thing the instances share), and wakes exactly the streams whose video changed.
//! Streams are bounded per user and in all; dropping a stream (the client went away)
//! releases its place at once; [`VideoWatch::close`] ends every stream at shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use vidgen_domain::users::UserId;
use vidgen_domain::videos::{Video, VideoId};

use super::ports::VideoRepository;

/// How many streams may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Per user (`EVENT_STREAMS_PER_USER`).
    pub per_user: usize,
    /// On this instance (`EVENT_STREAMS_MAX`).
    pub total: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WatchVideoError {
    /// The caller has as many streams open as allowed.
    #[error("you already have {limit} progress streams open; close one first")]
    TooManyForUser { limit: usize },
    /// The instance has as many streams open as allowed.
    #[error("too many progress streams are open; try again shortly")]
    TooMany,
    /// The instance is shutting down.
    #[error("the server is shutting down")]
    Closing,
}

/// What a stream sees of its video: its latest state, or `None` once it was deleted.
pub type Watched = Option<Video>;

struct Entry {
    sender: watch::Sender<Watched>,
    streams: usize,
}

#[derive(Default)]
struct State {
    videos: HashMap<VideoId, Entry>,
    per_user: HashMap<UserId, usize>,
    total: usize,
    closed: bool,
}

/// See the module docs.
pub struct VideoWatch {
    videos: Arc<dyn VideoRepository>,
    limits: StreamLimits,
    state: Arc<Mutex<State>>,
    closing: watch::Sender<bool>,
}

impl std::fmt::Debug for VideoWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoWatch")
            .field("limits", &self.limits)
            .field("open", &self.open_streams())
            .finish_non_exhaustive()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state holds counters only; a panic elsewhere cannot leave it half-changed.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a stream must hear about `new` after `old`.
fn changed(old: &Watched, new: &Watched) -> bool {
    match (old, new) {
        (Some(old), Some(new)) => {
            old.status != new.status
                || old.progress != new.progress
                || old.updated_at != new.updated_at
        }
        (None, None) => false,
        _ => true,
    }
}

impl VideoWatch {
    pub fn new(videos: Arc<dyn VideoRepository>, limits: StreamLimits) -> Self {
        Self {
            videos,
            limits,
            state: Arc::new(Mutex::new(State::default())),
            closing: watch::Sender::new(false),
        }
    }

    /// Streams open on this instance.
    pub fn open_streams(&self) -> usize {
        lock(&self.state).total
    }

    /// Follows `video` (its current state, as the caller was allowed to read it) for
    /// `user`.
    ///
    /// # Errors
    /// `TooManyForUser` / `TooMany` over the limits; `Closing` during shutdown.
    pub fn subscribe(&self, user: UserId, video: Video) -> Result<VideoStream, WatchVideoError> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(WatchVideoError::Closing);
        }
        let mine = state.per_user.get(&user).copied().unwrap_or(0);
        if mine >= self.limits.per_user {
            return Err(WatchVideoError::TooManyForUser {
                limit: self.limits.per_user,
            });
        }
        if state.total >= self.limits.total {
            return Err(WatchVideoError::TooMany);
        }
        let id = video.id;
        let entry = state.videos.entry(id).or_insert_with(|| Entry {
            sender: watch::Sender::new(Some(video.clone())),
            streams: 0,
        });
        entry.streams += 1;
        // The caller's read may be newer than what the poller saw last.
        entry.sender.send_if_modified(|seen| {
            let newer = seen
                .as_ref()
                .is_some_and(|seen| video.updated_at > seen.updated_at);
            if newer {
                *seen = Some(video);
            }
            newer
        });
        let receiver = entry.sender.subscribe();
        *state.per_user.entry(user).or_insert(0) += 1;
        state.total += 1;
        Ok(VideoStream {
            receiver,
            closing: self.closing.subscribe(),
            place: Place {
                state: self.state.clone(),
                video: id,
                user,
            },
        })
    }

    /// Ends every stream and refuses new ones (shutdown).
    pub fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        drop(state);
        self.closing.send_replace(true);
    }

    /// Reads the watched videos once and wakes the streams of those that changed.
    ///
    /// # Errors
    /// A storage failure (the streams keep their last state; the next tick tries again).
    pub async fn tick(&self) -> Result<(), crate::storage::RepositoryError> {
        let ids: Vec<VideoId> = lock(&self.state).videos.keys().copied().collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut found: HashMap<VideoId, Video> = self
            .videos
            .get_many(&ids)
            .await?
            .into_iter()
            .map(|video| (video.id, video))
            .collect();
        let state = lock(&self.state);
        for id in ids {
            if let Some(entry) = state.videos.get(&id) {
                let now = found.remove(&id);
                entry.sender.send_if_modified(|seen| {
                    let differs = changed(seen, &now);
                    if differs {
                        *seen = now;
                    }
                    differs
                });
            }
        }
        Ok(())
    }

    /// The poller: a [`Self::tick`] every `interval` until [`Self::close`]. A failing
    /// read is logged at most once a minute.
    pub async fn run(self: Arc<Self>, interval: Duration) {
        let mut closing = self.closing.subscribe();
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_logged: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = closing.wait_for(|closed| *closed) => return,
            }
            if let Err(error) = self.tick().await
                && last_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(60))
            {
                last_logged = Some(tokio::time::Instant::now());
                tracing::warn!(error = %error, "progress streams could not read their videos");
            }
        }
    }
}

/// One stream's hold on its video; dropping it gives its place back.
struct Place {
    state: Arc<Mutex<State>>,
    video: VideoId,
    user: UserId,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        state.total = state.total.saturating_sub(1);
        if let Some(count) = state.per_user.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.per_user.remove(&self.user);
            }
        }
        if let Some(entry) = state.videos.get_mut(&self.video) {
            entry.streams = entry.streams.saturating_sub(1);
            if entry.streams == 0 {
                state.videos.remove(&self.video);
            }
        }
    }
}

/// What one open stream follows.
pub struct VideoStream {
    receiver: watch::Receiver<Watched>,
    closing: watch::Receiver<bool>,
    place: Place,
}

impl std::fmt::Debug for VideoStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoStream")
            .field("video", &self.place.video)
            .finish_non_exhaustive()
    }
}

/// The next thing a stream has to tell.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamUpdate {
    /// The video's state (the first call gives the current one).
    Changed(Box<Video>),
    /// The video was deleted.
    Gone,
    /// The instance is shutting down.
    Closing,
}

impl VideoStream {
    /// The video's current state, without waiting.
    pub fn current(&mut self) -> StreamUpdate {
        match self.receiver.borrow_and_update().clone() {
            Some(video) => StreamUpdate::Changed(Box::new(video)),
            None => StreamUpdate::Gone,
        }
    }

    /// Waits for the next change.
    pub async fn next(&mut self) -> StreamUpdate {
        if *self.closing.borrow() {
            return StreamUpdate::Closing;
        }
        let changed = tokio::select! {
            changed = self.receiver.changed() => changed.is_ok(),
            _ = self.closing.wait_for(|closed| *closed) => false,
        };
        // A closed channel cannot happen while this stream holds its place: it means
        // shutdown too.
        if changed {
            self.current()
        } else {
            StreamUpdate::Closing
        }
    }
}

#[cfg(test)]
mod tests;
