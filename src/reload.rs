//! Hot reload: a configuration file that is watched, and applied the moment
//! it changes.
//!
//! [`Chaos::watch`] reads a file (TOML, YAML or JSON, by extension; see
//! [`Config::from_file`](crate::config::Config::from_file)), installs it, and keeps watching it from a
//! background thread (no async runtime needed) until the returned
//! [`WatchGuard`] is dropped. With
//! `CHAOS_CONFIG` set, [`Chaos::from_env`] does the same for as long as the
//! engine lives.
//!
//! # How a change is noticed
//!
//! - **File events** (inotify, FSEvents, kqueue, ReadDirectoryChangesW via
//!   `notify`) on the file's directory, so that the ways files are really
//!   replaced all count: writing in place, an editor writing a temporary file
//!   and renaming it over, and the Kubernetes ConfigMap volume, where the
//!   file is a symlink through `..data` to a timestamped directory and an
//!   update swaps `..data` atomically. Events are debounced: the file is read
//!   once no event came for [`WatchOptions::debounce`] (25 ms), and at most
//!   four debounce periods after the first event of a burst.
//! - **Polling**, every [`WatchOptions::poll_interval`] (1 s), for file
//!   systems without events (some network mounts) and anything events miss:
//!   the file's modification time, size and inode are compared, and the
//!   content is re-read and compared by hash when they changed (or while the
//!   modification time is too recent to be trusted).
//!
//! A directory that is removed and made again, or moved away and replaced
//! (`rm -rf dir && mkdir dir`, a volume remounted), is watched anew: the
//! watcher keeps the directory's identity (device and inode on Unix) and
//! re-watches when it changes, checked at every poll, and re-watches
//! whenever an event says the directory itself was removed or moved (as soon
//! as a directory is back at the path: looked for at once, then 10 ms,
//! 20 ms, 40 ms ... apart until the poll takes over). The file is read again after each
//! re-watch, so a change made before it is not missed. (Were that event
//! lost, a directory made again with the inode of the old one would look
//! unchanged to the poll; the poll still reads every change of the file.)
//!
//! Either way the configured path is re-read (following symlinks) and its
//! content compared by hash with the last content seen, so touching a file,
//! or the several events of one swap, install nothing new.
//!
//! # What a bad edit does
//!
//! Nothing, to the running service: an unreadable, deleted, empty or
//! invalid file is never installed, nor is a file that changes while it is
//! read. The last good
//! configuration stays in force, the error goes to
//! [`Status::last_error`](crate::Status::last_error) (naming the file, and
//! the field and value when it is about one), and one `tracing` warning is
//! logged per distinct error, not one per poll. A file that changes while it
//! is read is read again after the debounce. The next good version, including
//! a file recreated after a deletion, is installed as usual. Counters of rules
//! whose names persist carry over.
//!
//! A file written in place is read once its writes pause for the debounce
//! (or four debounce periods into a burst). A writer that pauses longer
//! than that mid-file, or keeps writing past it, can have a prefix read,
//! and a prefix that happens to be a valid configuration (a YAML file cut
//! before a rule's `match`) would be installed until the rest arrives. Write
//! the new file next to the old one and rename it over, as editors and
//! Kubernetes do, and no prefix is ever seen.
//!
//! # Example
//!
//! ```
//! use mischief::Chaos;
//!
//! # let dir = std::env::temp_dir().join(format!("mischief-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("chaos.toml");
//! std::fs::write(&path, "[[rules]]\nname = \"flaky\"\nabort = { status = 503, percentage = 10 }\n")?;
//!
//! let chaos = Chaos::builder().build()?;
//! let guard = chaos.watch(&path)?; // read and installed before this returns
//! assert_eq!(chaos.status().rules[0].name, "flaky");
//! assert_eq!(chaos.status().source.as_deref(), Some(path.to_str().unwrap()));
//!
//! drop(guard); // stops watching; the installed configuration stays
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher as _};

use crate::config::file::{self, content_hash};
use crate::engine::WeakChaos;
use crate::{Chaos, ConfigError};

/// How a file is watched. The defaults suit a config file on a local disk
/// or a Kubernetes volume.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct WatchOptions {
    debounce: Duration,
    poll_interval: Duration,
    events: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { debounce: Duration::from_millis(25), poll_interval: Duration::from_secs(1), events: true }
    }
}

impl WatchOptions {
    /// The defaults: 25 ms debounce, a poll every second, file events on.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long the file must be quiet after an event before it is read
    /// (at most a minute).
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce.min(Duration::from_secs(60));
        self
    }

    /// How often the file is checked without an event (from 10 ms to a day).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every.clamp(Duration::from_millis(10), Duration::from_secs(86_400));
        self
    }

    /// Use file events (`true`, the default) or poll only (`false`), as on a
    /// file system that has no events.
    pub fn events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }
}

/// Keeps a file watched; dropping it stops the watcher (and joins its
/// thread). The installed configuration stays.
#[must_use = "the file is watched only while the guard lives"]
pub struct WatchGuard {
    path: PathBuf,
    tx: Sender<Msg>,
    thread: Option<JoinHandle<()>>,
}

impl WatchGuard {
    /// The watched file, as an absolute path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for WatchGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchGuard").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(thread) = self.thread.take() {
            // The engine (and with it a guard) may be dropped by the watcher
            // thread itself; it then ends on its own after this returns.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Chaos {
    /// Reads the configuration file at `path`, installs it, and keeps
    /// watching it: see the [`reload`](crate::reload) module for how.
    ///
    /// The first read happens before this returns: an unreadable or invalid
    /// file is an error naming the file (and the field and value), and
    /// nothing is watched. The file's whole configuration replaces the
    /// installed one, as [`update`](Self::update) does: its rules, its
    /// guardrails (none, if the file has no `guardrails` section, whatever
    /// was set in code) and its seed. A guardrail trip stays through it
    /// unless the new configuration has no abort conditions (see
    /// [`update`](Self::update)). The master switch
    /// ([`set_enabled`](Self::set_enabled)) is not touched.
    /// Watching stops when the returned guard is dropped, or when every
    /// handle to this engine is gone.
    ///
    /// Watch one file per engine: two watchers (or a watcher and calls to
    /// [`update`](Self::update)) take turns, the last change winning. A
    /// configuration set by `update` lasts until the file is next written,
    /// even with the content it had: in Kubernetes, a change to any key of
    /// the ConfigMap rewrites every file of it.
    pub fn watch(&self, path: impl AsRef<Path>) -> Result<WatchGuard, ConfigError> {
        self.watch_with(path, WatchOptions::default())
    }

    /// Like [`watch`](Self::watch), with options.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mischief::reload::WatchOptions;
    /// // A network file system without events: poll every 2 seconds.
    /// let options = WatchOptions::new().events(false).poll_interval(Duration::from_secs(2));
    /// # let _ = options;
    /// ```
    pub fn watch_with(&self, path: impl AsRef<Path>, options: WatchOptions) -> Result<WatchGuard, ConfigError> {
        start(self, path.as_ref(), None, options, FirstLoad::Required)
    }
}

enum Msg {
    Fs(notify::Result<notify::Event>),
    Stop,
}

/// What a failed first load does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FirstLoad {
    /// It is the error, and nothing is watched.
    Required,
    /// It is logged and kept in the status, and the file is watched all the
    /// same: its first good version is installed (the global handle's
    /// `CHAOS_CONFIG`, which has no caller to return an error to).
    Lenient,
}

/// Starts watching: file events first (so no change is missed), then the
/// first load (an error ends it, unless `first` is lenient), then the
/// thread.
pub(crate) fn start(
    chaos: &Chaos,
    path: &Path,
    seed: Option<u64>,
    options: WatchOptions,
    first: FirstLoad,
) -> Result<WatchGuard, ConfigError> {
    let path = std::path::absolute(path).map_err(|e| ConfigError::read(path, &e))?;
    let (Some(dir), Some(name)) = (path.parent().map(Path::to_path_buf), path.file_name().map(OsString::from)) else {
        return Err(ConfigError::refused(&path, "not a file path"));
    };
    let (tx, rx) = mpsc::channel();
    let mut state = State {
        chaos: chaos.downgrade(),
        path: path.clone(),
        dir,
        name,
        seed,
        options,
        events: None,
        dir_id: None,
        target_dir: None,
        last_hash: None,
        installed: None,
        last_stamp: None,
        last_read: SystemTime::UNIX_EPOCH,
        last_warned: None,
    };
    if state.options.events {
        state.events = state.start_events(tx.clone());
    }
    state.last_stamp = stamp(&state.path).ok();
    state.last_read = SystemTime::now();
    match file::load_into(chaos, &state.path, seed) {
        Ok((hash, generation)) => {
            state.last_hash = Some(hash);
            state.installed = Some(generation);
        }
        Err(e) if first == FirstLoad::Lenient => {
            tracing::error!(
                target: "mischief",
                file = %path.display(),
                error = %e,
                "chaos config file rejected at startup; no rule applies until a good version is written (it is watched)"
            );
            state.last_warned = Some(e.to_string());
        }
        Err(e) => return Err(e),
    }
    state.follow_target();
    let thread =
        std::thread::Builder::new().name("mischief-reload".to_owned()).spawn(move || state.run(&rx)).map_err(|e| {
            ConfigError::Read {
                path: path.display().to_string(),
                message: format!("cannot start the watcher thread: {e}"),
                kind: Some(e.kind()),
            }
        })?;
    Ok(WatchGuard { path, tx, thread: Some(thread) })
}

/// What identifies a version of a file without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
}

/// The stamp of the file `path` resolves to (symlinks followed).
fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    Ok(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        #[cfg(unix)]
        inode: {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        },
    })
}

/// What tells one directory from another that took its place at the same
/// path: device and inode on Unix, the creation time elsewhere.
#[cfg(unix)]
type DirId = (u64, u64);
#[cfg(not(unix))]
type DirId = Option<SystemTime>;

/// The identity of the directory at `dir` (symlinks followed), or `None`
/// when there is none.
fn dir_id(dir: &Path) -> Option<DirId> {
    let meta = std::fs::metadata(dir).ok().filter(std::fs::Metadata::is_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        Some(meta.created().ok())
    }
}

/// The first wait before looking again for a watched directory that went
/// away; it doubles at each look, up to the poll interval.
const DIR_RETRY_FIRST: Duration = Duration::from_millis(10);

/// A modification time this close to the moment of reading may hide a later
/// write with the same time stamp (coarse clocks), so such a file is re-read
/// by the poll even when its stamp did not change.
const RACY: Duration = Duration::from_secs(2);

struct State {
    chaos: WeakChaos,
    path: PathBuf,
    dir: PathBuf,
    name: OsString,
    seed: Option<u64>,
    options: WatchOptions,
    events: Option<notify::RecommendedWatcher>,
    /// The identity of the directory `dir` the events watch, or `None` while
    /// it is not watched (gone, or the watch failed).
    dir_id: Option<DirId>,
    /// The directory of the file the path resolves to, when it is not `dir`
    /// (a symlink elsewhere), watched too, with that file's name.
    target_dir: Option<(PathBuf, OsString)>,
    /// The hash of the last content read (installed or rejected).
    last_hash: Option<u64>,
    /// The generation this watcher installed last: when another is in
    /// force (an `update` from code), the file's content is installed
    /// again the next time the file is written, even unchanged.
    installed: Option<u64>,
    last_stamp: Option<Stamp>,
    last_read: SystemTime,
    /// The last error warned about, so each distinct error is logged once.
    last_warned: Option<String>,
}

/// What [`State::ensure_dir_watched`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DirWatch {
    /// The directory watched is the one at the path (or events are off).
    Same,
    /// The directory was replaced and is now watched anew.
    Rewatched,
    /// There is no directory at the path, or it could not be watched.
    Lost,
}

enum Check {
    Done,
    /// The file changed while it was read: read it again soon.
    Unsettled,
    /// The engine is gone.
    Gone,
}

impl State {
    fn start_events(&mut self, tx: Sender<Msg>) -> Option<notify::RecommendedWatcher> {
        let id = dir_id(&self.dir);
        let started = notify::recommended_watcher(move |event| {
            let _ = tx.send(Msg::Fs(event));
        })
        .and_then(|mut w| w.watch(&self.dir, RecursiveMode::NonRecursive).map(|()| w));
        match started {
            Ok(w) => {
                // Replaced while the watch was set up: the next look re-watches.
                self.dir_id = id.filter(|id| dir_id(&self.dir) == Some(*id));
                Some(w)
            }
            Err(e) => {
                tracing::warn!(
                    target: "mischief",
                    file = %self.path.display(),
                    error = %e,
                    poll_ms = self.options.poll_interval.as_millis() as u64,
                    "file events unavailable; the chaos config file is polled instead"
                );
                None
            }
        }
    }

    fn run(mut self, rx: &Receiver<Msg>) {
        let debounce = self.options.debounce;
        let mut next_poll = Instant::now() + self.options.poll_interval;
        // (first event of the burst, deadline) while a read is pending.
        let mut pending: Option<(Instant, Instant)> = None;
        // (when, the wait after that) while the watched directory is gone
        // and looked for faster than the poll.
        let mut dir_retry: Option<(Instant, Duration)> = None;
        loop {
            let now = Instant::now();
            let wake = [pending.map(|(_, due)| due), dir_retry.map(|(due, _)| due)]
                .into_iter()
                .flatten()
                .fold(next_poll, Instant::min);
            match rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Msg::Fs(event)) => {
                    let now = Instant::now();
                    if self.relevant(&event) {
                        let first = pending.map_or(now, |(first, _)| first);
                        pending = Some((first, (now + debounce).min(first + debounce * 4)));
                    }
                    if self.about_dir(&event) {
                        // Watch it anew even if a directory of the same
                        // identity is back: a new one can reuse the inode.
                        self.dir_id = None;
                        dir_retry = Some((now, DIR_RETRY_FIRST));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if !self.chaos.is_alive() {
                        return;
                    }
                    let now = Instant::now();
                    if let Some((due, wait)) = dir_retry
                        && due <= now
                    {
                        dir_retry = match self.ensure_dir_watched() {
                            DirWatch::Same => None,
                            DirWatch::Rewatched => {
                                // Whatever changed before the watch was back.
                                pending = Some((now, now + debounce));
                                None
                            }
                            // Look again soon, then less often; past the
                            // poll interval the poll looks.
                            DirWatch::Lost => (wait < self.options.poll_interval).then(|| (now + wait, wait * 2)),
                        };
                        continue;
                    }
                    let check = if pending.is_some_and(|(_, due)| due <= now) {
                        pending = None;
                        self.check()
                    } else if next_poll <= now {
                        next_poll = now + self.options.poll_interval;
                        if self.ensure_dir_watched() == DirWatch::Rewatched { self.check() } else { self.poll() }
                    } else {
                        Check::Done
                    };
                    match check {
                        Check::Done => {}
                        Check::Unsettled => pending = Some((now, now + debounce)),
                        Check::Gone => return,
                    }
                }
            }
        }
    }

    /// Could this event be about our file?
    fn relevant(&self, event: &notify::Result<notify::Event>) -> bool {
        let Ok(event) = event else {
            return true; // an error of the event source: re-read to be safe
        };
        if let EventKind::Access(kind) = event.kind {
            // Reads (our own included) change nothing; a close after writing does.
            return matches!(kind, AccessKind::Close(AccessMode::Write));
        }
        if event.need_rescan() || event.paths.is_empty() {
            return true;
        }
        event.paths.iter().any(|p| match p.file_name() {
            None => true,
            Some(n) => {
                n == self.name
                    // Kubernetes' atomic writer: `..data`, `..data_tmp`, `..<timestamp>`.
                    || n.as_encoded_bytes().starts_with(b"..")
                    || self.target_dir.as_ref().is_some_and(|(_, t)| n == t)
            }
        })
    }

    /// Could this event mean that the watched directory itself went away or
    /// was moved (so that its watch is lost)? Events may have been dropped
    /// (an error, a rescan), so those count too.
    fn about_dir(&self, event: &notify::Result<notify::Event>) -> bool {
        let Ok(event) = event else {
            return true;
        };
        let moved_or_removed = matches!(
            event.kind,
            EventKind::Remove(_)
                | EventKind::Modify(ModifyKind::Name(_) | ModifyKind::Any)
                | EventKind::Any
                | EventKind::Other
        );
        event.need_rescan() || (moved_or_removed && event.paths.contains(&self.dir))
    }

    /// Watches the directory at `dir` anew when it is not the one watched
    /// (removed and made again, or moved away and replaced).
    fn ensure_dir_watched(&mut self) -> DirWatch {
        let Some(events) = self.events.as_mut() else {
            return DirWatch::Same;
        };
        let now = dir_id(&self.dir);
        if now.is_some() && now == self.dir_id {
            return DirWatch::Same;
        }
        // The old watch may already be gone with its directory.
        let _ = events.unwatch(&self.dir);
        self.dir_id = None;
        let Some(id) = now else {
            return DirWatch::Lost;
        };
        if events.watch(&self.dir, RecursiveMode::NonRecursive).is_err() {
            return DirWatch::Lost;
        }
        if dir_id(&self.dir) != Some(id) {
            // Replaced again meanwhile: the next look re-watches.
            return DirWatch::Lost;
        }
        self.dir_id = Some(id);
        tracing::debug!(target: "mischief", dir = %self.dir.display(), "the chaos config directory was replaced; watching the new one");
        DirWatch::Rewatched
    }

    /// The slow poll: re-read when the stamp changed or is too recent to trust.
    fn poll(&mut self) -> Check {
        match stamp(&self.path) {
            Ok(now) => {
                let racy = now.modified.is_none_or(|m| m.checked_add(RACY).is_none_or(|t| t > self.last_read));
                if self.last_stamp.as_ref() == Some(&now) && !racy && self.last_hash.is_some() {
                    return Check::Done;
                }
                self.check()
            }
            Err(_) => self.check(),
        }
    }

    /// Reads the file and installs it if its content is new.
    fn check(&mut self) -> Check {
        let Some(chaos) = self.chaos.upgrade() else {
            return Check::Gone;
        };
        let before = stamp(&self.path);
        let read_at = SystemTime::now();
        let bytes = match file::read_file(&self.path) {
            Ok(bytes) => bytes,
            Err(e) => {
                // Deleted or unreadable: keep the plan; a recreated file
                // with the same content must count as new.
                self.last_hash = None;
                self.last_stamp = None;
                self.report(&chaos, &e);
                return Check::Done;
            }
        };
        let after = stamp(&self.path);
        match (&before, &after) {
            (Ok(b), Ok(a)) if b == a && a.len == bytes.len() as u64 => {}
            _ => return Check::Unsettled,
        }
        // Written since the last read: the same content written again
        // after an `update` from code replaced the file's plan is installed
        // again (the last change wins); a mere re-read of it is not.
        let rewritten = self.last_stamp.as_ref() != after.as_ref().ok();
        self.last_stamp = after.ok();
        self.last_read = read_at;
        let hash = content_hash(&bytes);
        if self.last_hash == Some(hash) && !(rewritten && self.installed != Some(chaos.generation())) {
            return Check::Done;
        }
        self.last_hash = Some(hash);
        let parsed = file::parse_file(&self.path, &bytes).map(|mut config| {
            if config.seed.is_none() {
                config.seed = self.seed;
            }
            config
        });
        match parsed.and_then(|config| chaos.install(config, Some(&self.path))) {
            Ok(generation) => {
                self.installed = Some(generation);
                self.last_warned = None;
            }
            Err(e) => self.report(&chaos, &e),
        }
        self.follow_target();
        Check::Done
    }

    /// Keeps the error in the status, and warns once per distinct error.
    fn report(&mut self, chaos: &Chaos, error: &ConfigError) {
        chaos.record_error(error);
        let message = error.to_string();
        if self.last_warned.as_deref() != Some(message.as_str()) {
            tracing::warn!(
                target: "mischief",
                file = %self.path.display(),
                error = %message,
                "chaos config file rejected; keeping the last good configuration"
            );
            self.last_warned = Some(message);
        }
    }

    /// When the path is a symlink to a file in another directory, watch
    /// that directory too, so edits of the target are seen.
    fn follow_target(&mut self) {
        let Some(events) = self.events.as_mut() else {
            return;
        };
        let target = std::fs::canonicalize(&self.path).ok().and_then(|t| {
            let dir = t.parent()?.to_path_buf();
            let name = t.file_name()?.to_os_string();
            let same_dir = std::fs::canonicalize(&self.dir).is_ok_and(|d| d == dir);
            (!same_dir).then_some((dir, name))
        });
        if target == self.target_dir {
            return;
        }
        if let Some((old, _)) = self.target_dir.take() {
            let _ = events.unwatch(&old);
        }
        if let Some((dir, name)) = target
            && events.watch(&dir, RecursiveMode::NonRecursive).is_ok()
        {
            self.target_dir = Some((dir, name));
        }
    }
}
