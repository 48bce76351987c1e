//! Real files in a temporary directory, written the ways real tools write them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("mischief-reload-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Truncates the file and writes it, as `echo > file` or a plain editor save does.
pub(crate) fn write_in_place(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write in place");
}

/// Writes a temporary file beside it and renames it over, as most editors
/// and config tools do.
pub(crate) fn write_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename over");
}

/// The layout of a Kubernetes ConfigMap volume:
/// `name -> ..data/name`, `..data -> ..<timestamp>`, `..<timestamp>/name`.
/// Returns the path of the file as mounted.
pub(crate) fn k8s_layout(dir: &Path, name: &str, text: &str) -> PathBuf {
    let version = dir.join("..2025_01_01_00_00_00.000000000");
    std::fs::create_dir(&version).expect("version dir");
    std::fs::write(version.join(name), text).expect("write payload");
    std::os::unix::fs::symlink(version.file_name().unwrap(), dir.join("..data")).expect("..data link");
    std::os::unix::fs::symlink(Path::new("..data").join(name), dir.join(name)).expect("file link");
    dir.join(name)
}

/// An update as the kubelet's atomic writer does it: a new timestamped
/// directory, a `..data_tmp` link to it renamed over `..data`, and the old
/// directory removed.
pub(crate) fn k8s_swap(dir: &Path, name: &str, text: &str, n: usize) {
    let old = std::fs::read_link(dir.join("..data")).expect("read ..data");
    let version = format!("..2025_01_01_00_00_{n:02}.000000000");
    std::fs::create_dir(dir.join(&version)).expect("new version dir");
    std::fs::write(dir.join(&version).join(name), text).expect("write payload");
    std::os::unix::fs::symlink(&version, dir.join("..data_tmp")).expect("..data_tmp link");
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).expect("swap ..data");
    std::fs::remove_dir_all(dir.join(old)).expect("remove old version");
}
