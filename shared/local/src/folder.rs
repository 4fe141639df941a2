//! A folder as the bucket: the object `inbox/x.xml` is the file `<root>/inbox/x.xml`.
//!
//! Keys are already validated by `ObjectKey`; the path is still built segment by segment and
//! each segment checked to be a plain file name, so no key can reach outside the root. Writes go
//! to a temporary file under `<root>/.ledgerpost-tmp/` (same file system) and are renamed into
//! place, so a reader never sees half an object; a move is one rename.
//!
//! Differences from S3, all harmless for ledgerpost's keys: the content type is not kept
//! (`head` returns `None`); a key cannot be both an object and a "folder" of other keys
//! (`a` and `a/b`); empty folders are left behind by `delete` and `move_object`; symbolic
//! links under the root are skipped by `list` and not followed by design (do not create any).

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerpost_ports::bucket::check_prefix;
use ledgerpost_ports::{Bucket, BucketError, Cursor, InvalidKey, ObjectKey, ObjectMeta, ObjectPage};

use crate::LocalError;
use crate::ids::write_atomic;

/// Folder under the root that holds temporary files; no key may start with it.
const TMP_DIR: &str = ".ledgerpost-tmp";

/// A bucket kept in a folder.
#[derive(Debug, Clone)]
pub struct FolderBucket {
    root: PathBuf,
}

impl FolderBucket {
    /// Uses `root` as the bucket, creating it (and its temporary folder) when missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, LocalError> {
        let root = root.into();
        let tmp = root.join(TMP_DIR);
        fs::create_dir_all(&tmp).map_err(|err| LocalError::io(&tmp, err))?;
        Ok(FolderBucket { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `key`.
    pub fn path_of(&self, key: &ObjectKey) -> Result<PathBuf, BucketError> {
        self.join_segments(key.as_str(), key.segments())
    }

    fn join_segments<'a>(
        &self,
        text: &str,
        segments: impl Iterator<Item = &'a str>,
    ) -> Result<PathBuf, BucketError> {
        let refuse = |reason| BucketError::InvalidKey(InvalidKey { key: text.to_owned(), reason });
        let mut path = self.root.clone();
        for (i, segment) in segments.enumerate() {
            let mut components = Path::new(segment).components();
            let plain =
                matches!(components.next(), Some(Component::Normal(_))) && components.next().is_none();
            if !plain || segment.contains(['/', '\\', '\0']) {
                return Err(refuse("every segment must be a plain file name"));
            }
            if i == 0 && segment == TMP_DIR {
                return Err(refuse("this folder is reserved for the bucket's temporary files"));
            }
            path.push(segment);
        }
        Ok(path)
    }

    fn put_sync(&self, key: &ObjectKey, bytes: &[u8]) -> Result<(), BucketError> {
        let path = self.path_of(key)?;
        let context = || format!("put {key}");
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|err| io_error(context(), err))?;
        }
        write_atomic(&self.root.join(TMP_DIR), &path, bytes).map_err(|err| io_error(context(), err))
    }

    fn get_sync(&self, key: &ObjectKey, max_bytes: u64) -> Result<Vec<u8>, BucketError> {
        let path = self.path_of(key)?;
        let context = || format!("get {key}");
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(BucketError::NotFound { key: key.clone() });
            }
            Err(err) => return Err(io_error(context(), err)),
        };
        let meta = file.metadata().map_err(|err| io_error(context(), err))?;
        if !meta.is_file() {
            return Err(BucketError::NotFound { key: key.clone() });
        }
        // Refuse before reading anything.
        if meta.len() > max_bytes {
            return Err(BucketError::TooLarge { key: key.clone(), size: meta.len(), limit: max_bytes });
        }
        // Read at most one byte past the cap, in case the file is replaced meanwhile.
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|err| io_error(context(), err))?;
        let size = bytes.len() as u64;
        if size > max_bytes {
            return Err(BucketError::TooLarge { key: key.clone(), size, limit: max_bytes });
        }
        Ok(bytes)
    }

    fn head_sync(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BucketError> {
        let path = self.path_of(key)?;
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(object_meta(key.clone(), &meta))),
            Ok(_) => Ok(None),
            Err(err) if is_missing(&err) => Ok(None),
            Err(err) => Err(io_error(format!("head {key}"), err)),
        }
    }

    fn list_sync(
        &self,
        prefix: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<ObjectPage, BucketError> {
        check_prefix(prefix)?;
        if limit == 0 {
            return Err(BucketError::InvalidKey(InvalidKey {
                key: prefix.to_owned(),
                reason: "a list limit must be at least 1",
            }));
        }
        // Walk only the deepest folder the prefix names: `inbox/2024-` walks `inbox/`.
        let folder = match prefix.rfind('/') {
            Some(end) => &prefix[..end],
            None => "",
        };
        let start = if folder.is_empty() {
            self.root.clone()
        } else {
            self.join_segments(prefix, folder.split('/'))?
        };
        let failed = |err| io_error(format!("list {prefix}"), err);
        let mut found = Vec::new();
        let after = after.map(Cursor::as_str);
        self.walk(&start, folder, prefix, after, &mut found).map_err(failed)?;
        // Only the page is looked at further (the metadata costs a system call per file).
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().map(|(key, _)| Cursor::new(key.as_str()))
        } else {
            None
        };
        let objects = found
            .into_iter()
            .map(|(key, path)| fs::metadata(&path).map(|meta| object_meta(key, &meta)))
            .collect::<io::Result<Vec<_>>>()
            .map_err(failed)?;
        Ok(ObjectPage { objects, next })
    }

    /// Collects the files under `dir` (whose key prefix is `dir_key`) with keys starting with
    /// `prefix` and after `after`, with their paths. Skips the temporary folder, symbolic links
    /// and names that are not keys.
    fn walk(
        &self,
        dir: &Path,
        dir_key: &str,
        prefix: &str,
        after: Option<&str>,
        found: &mut Vec<(ObjectKey, PathBuf)>,
    ) -> io::Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) if is_missing(&err) => return Ok(()),
            Err(err) => return Err(err),
        };
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            if dir_key.is_empty() && name == TMP_DIR {
                continue;
            }
            let key_text = if dir_key.is_empty() { name } else { format!("{dir_key}/{name}") };
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                // Only descend where keys with the prefix can be.
                if key_text.starts_with(prefix) || prefix.starts_with(&format!("{key_text}/")) {
                    self.walk(&entry.path(), &key_text, prefix, after, found)?;
                }
            } else if file_type.is_file()
                && key_text.starts_with(prefix)
                && after.is_none_or(|after| key_text.as_str() > after)
                && let Ok(key) = ObjectKey::parse(key_text)
            {
                found.push((key, entry.path()));
            }
        }
        Ok(())
    }

    fn move_sync(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), BucketError> {
        let source = self.path_of(from)?;
        let dest = self.path_of(to)?;
        let context = || format!("move {from} to {to}");
        match fs::metadata(&source) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(BucketError::NotFound { key: from.clone() }),
            Err(err) if is_missing(&err) => return Err(BucketError::NotFound { key: from.clone() }),
            Err(err) => return Err(io_error(context(), err)),
        }
        if source == dest {
            return Ok(());
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|err| io_error(context(), err))?;
        }
        match fs::rename(&source, &dest) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                Err(BucketError::NotFound { key: from.clone() })
            }
            Err(err) => Err(io_error(context(), err)),
        }
    }

    fn delete_sync(&self, key: &ObjectKey) -> Result<(), BucketError> {
        let path = self.path_of(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(err) if is_missing(&err) => Ok(()),
            Err(err) => Err(io_error(format!("delete {key}"), err)),
        }
    }
}

/// A missing file, or a missing folder on its path (which `NotADirectory` also signals when a
/// file sits where a folder would be).
fn is_missing(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

fn object_meta(key: ObjectKey, meta: &fs::Metadata) -> ObjectMeta {
    let last_modified = meta.modified().ok().map(DateTime::<Utc>::from);
    ObjectMeta { key, size: meta.len(), last_modified, content_type: None }
}

fn io_error(context: String, err: io::Error) -> BucketError {
    match err.kind() {
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            BucketError::unavailable(context, err)
        }
        _ => BucketError::backend(context, err),
    }
}

#[async_trait]
impl Bucket for FolderBucket {
    async fn put(&self, key: &ObjectKey, bytes: Vec<u8>, _content_type: &str) -> Result<(), BucketError> {
        self.put_sync(key, &bytes)
    }

    async fn get(&self, key: &ObjectKey, max_bytes: u64) -> Result<Vec<u8>, BucketError> {
        self.get_sync(key, max_bytes)
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BucketError> {
        self.head_sync(key)
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<ObjectPage, BucketError> {
        self.list_sync(prefix, after, limit)
    }

    async fn move_object(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), BucketError> {
        self.move_sync(from, to)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), BucketError> {
        self.delete_sync(key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn key(text: &str) -> ObjectKey {
        ObjectKey::parse(text).unwrap()
    }

    fn bucket() -> (tempfile::TempDir, FolderBucket) {
        let dir = tempfile::tempdir().unwrap();
        let bucket = FolderBucket::open(dir.path().join("bucket")).unwrap();
        (dir, bucket)
    }

    #[tokio::test]
    async fn put_get_head_delete() {
        let (_dir, bucket) = bucket();
        let k = key("inbox/2024/x.xml");
        bucket.put(&k, b"<Invoice/>".to_vec(), "application/xml").await.unwrap();
        assert_eq!(bucket.get(&k, 100).await.unwrap(), b"<Invoice/>");
        assert_eq!(bucket.size(&k).await.unwrap(), Some(10));
        assert_eq!(
            std::fs::read(bucket.root().join("inbox").join("2024").join("x.xml")).unwrap(),
            b"<Invoice/>"
        );
        // Overwrite replaces the whole object.
        bucket.put(&k, b"<x/>".to_vec(), "application/xml").await.unwrap();
        assert_eq!(bucket.get(&k, 100).await.unwrap(), b"<x/>");
        bucket.delete(&k).await.unwrap();
        assert!(bucket.head(&k).await.unwrap().is_none());
        assert!(matches!(bucket.get(&k, 100).await, Err(BucketError::NotFound { .. })));
        // Deleting again is fine, as on S3.
        bucket.delete(&k).await.unwrap();
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(bucket.root().join(TMP_DIR)).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn size_cap_refuses_before_reading() {
        let (_dir, bucket) = bucket();
        let k = key("inbox/huge.xml");
        bucket.put(&k, vec![b'x'; 1001], "application/xml").await.unwrap();
        match bucket.get(&k, 1000).await {
            Err(BucketError::TooLarge { size, limit, .. }) => assert_eq!((size, limit), (1001, 1000)),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(bucket.get(&k, 1001).await.unwrap().len(), 1001);
    }

    #[test]
    fn path_traversal_is_refused() {
        let (dir, bucket) = bucket();
        // Keys that try to leave the root never become keys at all.
        for bad in ["../outside.xml", "inbox/../../outside.xml", "/etc/passwd", "inbox\\..\\x", "a\0b"] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?}");
        }
        // The temporary folder is not reachable through a key.
        assert!(matches!(bucket.path_of(&key(".ledgerpost-tmp/x")), Err(BucketError::InvalidKey(_))));
        // Every key stays under the root.
        let path = bucket.path_of(&key("inbox/..x/y")).unwrap();
        assert!(path.starts_with(bucket.root()));
        // Prefixes are checked too.
        let listed = bucket.list_sync("../", None, 10);
        assert!(matches!(listed, Err(BucketError::InvalidKey(_))));
        assert!(!dir.path().join("outside.xml").exists());
    }

    #[tokio::test]
    async fn move_is_a_rename_and_keeps_the_bytes() {
        let (_dir, bucket) = bucket();
        let from = key("inbox/bad.xml");
        let to = key("rejected/bad.xml");
        bucket.put(&from, b"not ubl".to_vec(), "application/xml").await.unwrap();
        bucket.move_object(&from, &to).await.unwrap();
        assert!(bucket.head(&from).await.unwrap().is_none());
        assert_eq!(bucket.get(&to, 100).await.unwrap(), b"not ubl");
        // Moving what is not there says so.
        assert!(matches!(bucket.move_object(&from, &to).await, Err(BucketError::NotFound { .. })));
        // A move onto an existing key replaces it.
        bucket.put(&from, b"second".to_vec(), "application/xml").await.unwrap();
        bucket.move_object(&from, &to).await.unwrap();
        assert_eq!(bucket.get(&to, 100).await.unwrap(), b"second");
    }

    #[test]
    fn readers_never_see_a_partial_object() {
        // GIVEN a writer replacing an object over and over with one of two full contents
        let (_dir, bucket) = bucket();
        let bucket = Arc::new(bucket);
        let k = key("inbox/race.xml");
        let a = vec![b'a'; 256 * 1024];
        let b = vec![b'b'; 200 * 1024];
        bucket.put_sync(&k, &a).unwrap();
        let writer = {
            let (bucket, k, a, b) = (bucket.clone(), k.clone(), a.clone(), b.clone());
            std::thread::spawn(move || {
                for i in 0..50 {
                    bucket.put_sync(&k, if i % 2 == 0 { &b } else { &a }).unwrap();
                }
            })
        };
        // THEN every read returns one of the two whole contents
        for _ in 0..200 {
            let read = bucket.get_sync(&k, u64::MAX).unwrap();
            assert!(read == a || read == b, "partial read of {} bytes", read.len());
        }
        writer.join().unwrap();
    }

    #[tokio::test]
    async fn list_by_prefix_in_pages() {
        let (_dir, bucket) = bucket();
        for name in
            ["inbox/c.xml", "inbox/a.xml", "inbox/b.xml", "inbox/sub/d.xml", "invoices/x", "rejected/a.xml"]
        {
            bucket.put(&key(name), b"x".to_vec(), "text/plain").await.unwrap();
        }
        let mut keys = Vec::new();
        let mut after = None;
        loop {
            let page = bucket.list("inbox/", after.as_ref(), 2).await.unwrap();
            assert!(page.objects.len() <= 2);
            keys.extend(page.objects.into_iter().map(|meta| meta.key.into_string()));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(keys, ["inbox/a.xml", "inbox/b.xml", "inbox/c.xml", "inbox/sub/d.xml"]);
        // A prefix is text, not a folder.
        let page = bucket.list("in", None, 100).await.unwrap();
        assert_eq!(page.objects.len(), 5);
        let page = bucket.list("inbox/s", None, 100).await.unwrap();
        assert_eq!(page.objects.len(), 1);
        // The whole bucket, without the temporary folder.
        let page = bucket.list("", None, 100).await.unwrap();
        assert_eq!(page.objects.len(), 6);
        assert!(bucket.list("nothing/", None, 10).await.unwrap().objects.is_empty());
    }
}
