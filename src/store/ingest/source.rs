//! Finding log files and reading them as numbered lines from a byte offset.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;

/// Bytes at the start of a file that identify it across runs (rotation detection).
pub const HEAD_LEN: usize = 4096;

/// Longest line accepted, in bytes (without its newline). Cowrie's lines are a few hundred
/// bytes; the largest real ones (a binary echoed as base64, port-forward payloads) reach
/// megabytes. A longer line is a dead letter keeping its first [`DEAD_PREFIX`] bytes, and is
/// read in bounded memory.
pub const MAX_LINE: usize = 16 << 20;

/// How much of an over-long line its dead letter keeps.
pub const DEAD_PREFIX: usize = 4096;

/// Where lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    /// A FIFO, a process substitution (`<(zcat x.gz)`) or another file that is not a regular
    /// one: read once from its first byte, like standard input (no head to sniff, no
    /// checkpoint; content hashes still make a second read a no-op).
    Stream(PathBuf),
    Stdin,
}

impl Source {
    /// The name stored in `source_file` and used as the checkpoint key.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) | Source::Stream(p) => p.display().to_string(),
            Source::Stdin => "-".to_string(),
        }
    }

    pub fn is_gzip(&self) -> bool {
        matches!(self, Source::File(p) | Source::Stream(p) if p.extension().is_some_and(|e| e == "gz"))
    }

    /// Whether progress can be checkpointed by offset (only regular files can be reopened
    /// at an offset).
    pub fn resumable(&self) -> bool {
        matches!(self, Source::File(_))
    }

    /// A live plain file may still grow: an unterminated last line may be incomplete.
    pub fn may_grow(&self) -> bool {
        matches!(self, Source::File(_)) && !self.is_gzip()
    }

    /// Size on disk (compressed size for `.gz`), for the progress bar.
    pub fn disk_len(&self) -> u64 {
        match self {
            Source::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Source::Stream(_) | Source::Stdin => 0,
        }
    }

    /// Opens the (decompressed) byte stream from its start.
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        Ok(match self {
            Source::Stdin => Box::new(io::stdin()),
            Source::File(p) | Source::Stream(p) => {
                let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
                // An empty .gz (a rotation that wrote nothing) holds no lines; gzip calls it
                // a cut stream.
                let empty = f.metadata().is_ok_and(|m| m.is_file() && m.len() == 0);
                if self.is_gzip() && empty {
                    Box::new(io::empty())
                } else if self.is_gzip() {
                    gzip_stream(f)
                } else {
                    Box::new(f)
                }
            }
        })
    }

    /// The first `HEAD_LEN` bytes of the (decompressed) stream; empty for streams, whose
    /// bytes can be read only once.
    pub fn head(&self) -> Result<Vec<u8>> {
        if !self.resumable() {
            return Ok(Vec::new());
        }
        let mut head = Vec::with_capacity(HEAD_LEN);
        // A damaged stream (a cut .gz) still has a head: the bytes before the damage, which
        // read_to_end keeps; the damage itself is met, and reported, when its lines are read.
        let _ = self.open()?.take(HEAD_LEN as u64).read_to_end(&mut head);
        Ok(head)
    }
}

/// The decompressed bytes of a `.gz` stream: every member of a multi-member file, in turn.
pub fn gzip_stream(r: impl Read + Send + 'static) -> Box<dyn Read + Send> {
    Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 16, r)))
}

/// Whether a file found while walking a folder is a Cowrie JSON log: `cowrie.json`,
/// `cowrie.json.2020-03-19`, `cowrie.json.2017_11_4`, `cowrie.json.1`, `cowrie.json.2.gz`,
/// `cowrie-2020-05-24.json`, `anything.json`, `anything.json.gz`. Cowrie's text logs
/// (`cowrie.log*`) and everything else are skipped.
fn looks_like_log(name: &str) -> bool {
    let bare = name.strip_suffix(".gz").unwrap_or(name);
    bare.ends_with(".json") || (name.starts_with("cowrie") && bare.contains(".json"))
}

/// The sources the command-line paths name, the files folders held that are not JSON logs,
/// and what in the folders could not be read at all (with why).
#[derive(Debug, Default)]
pub struct Discovered {
    pub sources: Vec<Source>,
    pub skipped: Vec<PathBuf>,
    pub problems: Vec<(String, String)>,
}

/// Expands the command-line paths: `-` is standard input, folders are walked recursively
/// (JSON logs only, in name order). A named file is taken if its first lines look like JSON,
/// or whatever it holds with `force`.
pub fn discover(paths: &[PathBuf], force: bool) -> Result<Discovered> {
    let mut out = Discovered::default();
    for p in paths {
        if p.as_os_str() == "-" {
            out.sources.push(Source::Stdin);
        } else if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            let s = file_or_stream(p);
            // A stream cannot be sniffed without losing what was read.
            if s.resumable() && !force && !starts_like_json(&s.head()?) {
                anyhow::bail!(
                    "{} does not look like a Cowrie JSON log (its first lines are not JSON objects); \
                     give --force to load it anyway, its lines becoming dead letters",
                    p.display()
                );
            }
            out.sources.push(s);
        } else {
            anyhow::bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(out)
}

/// Whether any of the first few non-blank lines of `head` starts a JSON object (an empty
/// file passes: there is nothing to lose).
fn starts_like_json(head: &[u8]) -> bool {
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.trim_ascii()).filter(|l| !l.is_empty()).take(5).peekable();
    lines.peek().is_none() || lines.any(|l| l.starts_with(b"{"))
}

/// Walks `dir`; a folder that cannot be listed or an entry that cannot be looked at (a
/// dangling link) is a problem to report, and the walk goes on.
fn walk(dir: &Path, out: &mut Discovered) -> Result<()> {
    let listing = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) => {
            out.problems.push((dir.display().to_string(), format!("cannot list the folder: {e}")));
            return Ok(());
        }
    };
    let mut entries: Vec<_> = listing.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let wanted = p.file_name().and_then(|n| n.to_str()).is_some_and(looks_like_log);
        if let Err(e) = std::fs::metadata(&p) {
            if wanted || p.is_symlink() {
                out.problems.push((p.display().to_string(), format!("cannot read: {e}")));
            }
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if wanted {
            out.sources.push(file_or_stream(&p));
        } else {
            out.skipped.push(p);
        }
    }
    Ok(())
}

/// A regular file, or a stream (FIFO, process substitution, device) to read once.
fn file_or_stream(p: &Path) -> Source {
    let regular = std::fs::metadata(p).is_ok_and(|m| m.is_file());
    if regular {
        Source::File(absolute(p))
    } else {
        Source::Stream(p.to_path_buf())
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A line read from a source.
pub struct Line<'a> {
    pub offset: u64,
    /// Without its `\n`; only the first [`MAX_LINE`] bytes of a longer line.
    pub bytes: &'a [u8],
    /// The whole line's length without its `\n` (more than `bytes` holds when over the limit).
    pub len: u64,
    /// False for a last line with no newline after it.
    pub terminated: bool,
}

/// Reads `\n`-terminated lines with their byte offsets, starting at `start`
/// (bytes before it are skipped, decompressing if need be).
pub struct LineReader {
    inner: BufReader<Box<dyn Read + Send>>,
    pos: u64,
    buf: Vec<u8>,
}

impl LineReader {
    pub fn open(source: &Source, start: u64) -> Result<Self> {
        let mut r = Self::new(source.open()?);
        r.pos = io::copy(&mut (&mut r.inner).take(start), &mut io::sink())?;
        Ok(r)
    }

    /// As `open`, and whether the byte before `start` ends a line (true at the start). A run
    /// that stopped after a last line with no newline yet resumes on that newline, which is
    /// no blank line of its own.
    pub fn open_resuming(source: &Source, start: u64) -> Result<(Self, bool)> {
        if start == 0 {
            return Ok((Self::open(source, 0)?, true));
        }
        let mut r = Self::open(source, start - 1)?;
        let mut byte = [0u8; 1];
        let n = r.inner.read(&mut byte)?;
        r.pos += n as u64;
        Ok((r, n == 0 || byte[0] == b'\n'))
    }

    /// Lines of any byte stream from its start (`gzip_stream` decompresses one, as `.gz`
    /// sources are read).
    pub fn new(stream: Box<dyn Read + Send>) -> Self {
        Self { inner: BufReader::with_capacity(1 << 18, stream), pos: 0, buf: Vec::with_capacity(4096) }
    }

    /// Position after the last line returned.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// The next line, read in bounded memory: past [`MAX_LINE`] bytes the rest of the line
    /// is skipped (counted, not kept), so a gigabyte line costs no more than a short one.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let offset = self.pos;
        let mut n: u64 = 0;
        let mut terminated = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (take, found) = match memchr::memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let room = (MAX_LINE + 1).saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&available[..take.min(room)]);
            self.inner.consume(take);
            n += take as u64;
            if found {
                terminated = true;
                break;
            }
        }
        if n == 0 {
            return Ok(None);
        }
        self.pos += n;
        let len = if terminated { n - 1 } else { n };
        let end = (len as usize).min(MAX_LINE).min(self.buf.len());
        Ok(Some(Line { offset, bytes: &self.buf[..end], len, terminated }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_and_renamed_names_are_logs() {
        for n in [
            "cowrie.json",
            "cowrie.json.2020-03-19",
            "cowrie.json.2017_11_4",
            "cowrie.json.2.gz",
            "cowrie-2020-05-24.json",
            "x.json.gz",
        ] {
            assert!(looks_like_log(n), "{n}");
        }
        for n in ["SOURCES.md", "notes.txt", "image.gz", "cowrie.log", "cowrie.log.2025-09-22", "cowrie.log.1.gz"] {
            assert!(!looks_like_log(n), "{n}");
        }
    }

    #[test]
    fn json_heads_are_told_from_text() {
        assert!(starts_like_json(b"{\"eventid\": 1}\n"));
        assert!(starts_like_json(b"\n\n  {\"eventid\": 1}"));
        assert!(starts_like_json(b""));
        assert!(starts_like_json(b"garbage\n{\"eventid\": 1}\n"));
        assert!(!starts_like_json(b"# cowrieql\n\nSome text.\n"));
        assert!(!starts_like_json(b"2025-09-22T10:00:00+0000 [twisted] Log opened.\n"));
    }
}
