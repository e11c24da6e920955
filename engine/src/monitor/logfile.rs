//! Docker's json-file log format: one `{"log":…,"stream":…,"time":…}` object per line.
//!
//! The monitor appends with [`LogWriter`]; berthd reads with [`read_log`] (`docker logs`) and keeps
//! following with [`read_from`] from the offset it returned (`docker logs -f`).

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::timestamp::rfc3339_nano;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
}

/// dockerd writes an unterminated line once this much of it has accumulated.
pub const MAX_PARTIAL: usize = 16 * 1024;

/// Appends container output as json-file lines. A line is written when its '\n' arrives, when
/// 16 KiB of it have accumulated, or at [`LogWriter::flush`] (exit), as dockerd does. No fsync.
pub struct LogWriter {
    file: File,
    partial: [Vec<u8>; 2],
    out: Vec<u8>,
}

impl LogWriter {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(LogWriter {
            file,
            partial: [Vec::new(), Vec::new()],
            out: Vec::new(),
        })
    }

    fn encode(out: &mut Vec<u8>, stream: Stream, time: &str, data: &[u8]) -> io::Result<()> {
        let line = Line {
            log: String::from_utf8_lossy(data),
            stream: Cow::Borrowed(stream.as_str()),
            time: Cow::Borrowed(time),
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.push(b'\n');
        Ok(())
    }

    /// Adds a chunk of output; complete lines go to the file in one write.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let time = rfc3339_nano(Utc::now());
        let i = stream as usize;
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let mut rest = data;
        while !rest.is_empty() {
            let pending = &mut self.partial[i];
            let room = MAX_PARTIAL - pending.len();
            match rest.iter().take(room).position(|b| *b == b'\n') {
                Some(pos) => {
                    let (line, tail) = rest.split_at(pos + 1);
                    if pending.is_empty() {
                        Self::encode(&mut out, stream, &time, line)?;
                    } else {
                        pending.extend_from_slice(line);
                        Self::encode(&mut out, stream, &time, pending)?;
                        pending.clear();
                    }
                    rest = tail;
                }
                None if rest.len() >= room => {
                    // The buffer is full without a newline: a partial entry, like dockerd.
                    pending.extend_from_slice(&rest[..room]);
                    Self::encode(&mut out, stream, &time, pending)?;
                    pending.clear();
                    rest = &rest[room..];
                }
                None => {
                    pending.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        let r = if out.is_empty() {
            Ok(())
        } else {
            self.file.write_all(&out)
        };
        self.out = out;
        r
    }

    /// Writes what is left of unterminated lines (at exit).
    pub fn flush(&mut self) -> io::Result<()> {
        let time = rfc3339_nano(Utc::now());
        let mut out = Vec::new();
        for s in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.partial[s as usize]);
            if !rest.is_empty() {
                Self::encode(&mut out, s, &time, &rest)?;
            }
        }
        if !out.is_empty() {
            self.file.write_all(&out)?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub stream: Stream,
    pub time: DateTime<Utc>,
    /// The output as the container wrote it, including its '\n' (absent on a partial entry).
    pub line: Vec<u8>,
}

fn parse_line(buf: &[u8]) -> Option<LogEntry> {
    let l: Line = serde_json::from_slice(buf).ok()?;
    let time = DateTime::parse_from_rfc3339(&l.time)
        .map(|t| t.with_timezone(&Utc))
        .ok()?;
    Some(LogEntry {
        stream: if l.stream == "stderr" {
            Stream::Stderr
        } else {
            Stream::Stdout
        },
        time,
        line: l.log.into_owned().into_bytes(),
    })
}

fn open_existing(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads entries from byte `offset`; returns them and the offset just after the last complete
/// line, from which the next call continues (`logs -f`). A missing file reads as empty.
pub fn read_from(path: &Path, offset: u64) -> io::Result<(Vec<LogEntry>, u64)> {
    let mut out = Vec::new();
    let end = scan(path, offset, |e| {
        out.push(e);
        true
    })?;
    Ok((out, end))
}

/// Calls `f` for each complete entry from `offset` until it returns false; returns the offset
/// after the last line consumed.
fn scan(path: &Path, offset: u64, mut f: impl FnMut(LogEntry) -> bool) -> io::Result<u64> {
    let Some(mut file) = open_existing(path)? else {
        return Ok(offset);
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut r = io::BufReader::with_capacity(64 * 1024, file);
    let mut pos = offset;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = r.read_until(b'\n', &mut buf)?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break; // EOF, or a line the monitor is still writing
        }
        pos += n as u64;
        // A corrupt line (e.g. after a crash mid-write) is skipped, as dockerd does.
        if let Some(e) = parse_line(&buf) {
            if !f(e) {
                break;
            }
        }
    }
    Ok(pos)
}

/// The offset where the last `n` complete lines start, found by reading backwards from the end so
/// a big log costs only what is shown. Also returns the end of the last complete line.
fn tail_offset(file: &mut File, n: usize) -> io::Result<(u64, u64)> {
    const BLOCK: u64 = 64 * 1024;
    let len = file.seek(SeekFrom::End(0))?;
    let mut buf = vec![0u8; BLOCK as usize];
    let mut end: Option<u64> = None; // just after the last '\n'
    let mut seen = 0usize;
    let mut hi = len;
    while hi > 0 {
        let lo = hi.saturating_sub(BLOCK);
        let chunk = &mut buf[..(hi - lo) as usize];
        file.seek(SeekFrom::Start(lo))?;
        file.read_exact(chunk)?;
        for (i, b) in chunk.iter().enumerate().rev() {
            if *b != b'\n' {
                continue;
            }
            let after = lo + i as u64 + 1;
            match end {
                None => {
                    end = Some(after);
                    if n == 0 {
                        return Ok((after, after));
                    }
                }
                Some(e) => {
                    seen += 1;
                    if seen == n {
                        return Ok((after, e));
                    }
                }
            }
        }
        hi = lo;
    }
    Ok((0, end.unwrap_or(0)))
}

/// Entries for `docker logs`: the last `tail` lines (all when None), then only those with
/// `since <= time <= until`. Returns the entries and the offset to continue from with
/// [`read_from`] for `--follow`.
pub fn read_log_at(
    path: &Path,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    tail: Option<usize>,
) -> io::Result<(Vec<LogEntry>, u64)> {
    let start = match tail {
        None => 0,
        Some(n) => match open_existing(path)? {
            None => 0,
            Some(mut f) => {
                let (start, end) = tail_offset(&mut f, n)?;
                if start == end {
                    return Ok((Vec::new(), end));
                }
                start
            }
        },
    };
    let mut out = Vec::new();
    let end = scan(path, start, |e| {
        if until.is_some_and(|u| e.time > u) {
            return false; // entries are in time order: nothing later qualifies
        }
        if since.is_none_or(|s| e.time >= s) {
            out.push(e);
        }
        true
    })?;
    Ok((out, end))
}

/// [`read_log_at`] without the follow offset.
#[cfg(test)]
pub fn read_log(
    path: &Path,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    tail: Option<usize>,
) -> io::Result<Vec<LogEntry>> {
    read_log_at(path, since, until, tail).map(|(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[LogEntry]) -> Vec<&[u8]> {
        v.iter().map(|e| e.line.as_slice()).collect()
    }

    #[test]
    fn lines_split_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write(Stream::Stdout, b"hel").unwrap();
        w.write(Stream::Stdout, b"lo\nwor").unwrap();
        w.write(Stream::Stderr, b"oops\n").unwrap();
        w.write(Stream::Stdout, b"ld\n\n").unwrap();
        w.write(Stream::Stdout, b"tail").unwrap();
        w.flush().unwrap();
        let (entries, end) = read_from(&p, 0).unwrap();
        assert_eq!(
            lines(&entries),
            vec![&b"hello\n"[..], b"oops\n", b"world\n", b"\n", b"tail"]
        );
        assert_eq!(entries[1].stream, Stream::Stderr);
        assert_eq!(end, std::fs::metadata(&p).unwrap().len());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\""));
        // 9 fractional digits and Z, as dockerd writes.
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let t = first["time"].as_str().unwrap();
        assert_eq!(t.len(), "2026-01-02T03:04:05.123456789Z".len(), "{t}");
        // Nothing new: the offset stays.
        assert_eq!(read_from(&p, end).unwrap(), (vec![], end));
    }

    #[test]
    fn long_lines_become_16k_partials() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut w = LogWriter::open(&p).unwrap();
        let mut data = vec![b'a'; 40 * 1024];
        data.push(b'\n');
        for c in data.chunks(3000) {
            w.write(Stream::Stdout, c).unwrap();
        }
        w.flush().unwrap();
        let (entries, _) = read_from(&p, 0).unwrap();
        let sizes: Vec<usize> = entries.iter().map(|e| e.line.len()).collect();
        assert_eq!(sizes, vec![16384, 16384, 40 * 1024 - 32768 + 1]);
        let joined: Vec<u8> = entries.into_iter().flat_map(|e| e.line).collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn invalid_utf8_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write(Stream::Stdout, b"\"q\"\t\\ \xff\n").unwrap();
        let (entries, _) = read_from(&p, 0).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&entries[0].line),
            "\"q\"\t\\ \u{fffd}\n"
        );
    }

    fn entry(t: &str, log: &str) -> String {
        format!("{{\"log\":\"{log}\\n\",\"stream\":\"stdout\",\"time\":\"{t}\"}}\n")
    }

    #[test]
    fn tail_since_until_and_follow() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut text = String::new();
        for i in 0..5 {
            text += &entry(
                &format!("2026-01-01T00:00:0{i}.000000000Z"),
                &format!("l{i}"),
            );
        }
        // A line still being written is not returned and not consumed.
        text += "{\"log\":\"half";
        std::fs::write(&p, &text).unwrap();
        let t = |s: u32| -> DateTime<Utc> {
            DateTime::parse_from_rfc3339(&format!("2026-01-01T00:00:0{s}Z"))
                .unwrap()
                .with_timezone(&Utc)
        };
        let all = read_log(&p, None, None, None).unwrap();
        assert_eq!(all.len(), 5);
        let (last2, end) = read_log_at(&p, None, None, Some(2)).unwrap();
        assert_eq!(lines(&last2), vec![&b"l3\n"[..], b"l4\n"]);
        assert_eq!(end as usize, text.len() - "{\"log\":\"half".len());
        let (none, end0) = read_log_at(&p, None, None, Some(0)).unwrap();
        assert!(none.is_empty());
        assert_eq!(end0, end);
        assert_eq!(read_log(&p, None, None, Some(100)).unwrap().len(), 5);
        let mid = read_log(&p, Some(t(1)), Some(t(3)), None).unwrap();
        assert_eq!(lines(&mid), vec![&b"l1\n"[..], b"l2\n", b"l3\n"]);
        // tail first, then the time filter (as dockerd).
        let both = read_log(&p, Some(t(4)), None, Some(3)).unwrap();
        assert_eq!(lines(&both), vec![&b"l4\n"[..]]);
        // Follow: finish the half line and continue from the returned offset.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"\",\"stream\":\"stderr\",\"time\":\"2026-01-01T00:00:06Z\"}\n")
            .unwrap();
        let (more, _) = read_from(&p, end).unwrap();
        assert_eq!(lines(&more), vec![&b"half"[..]]);
        assert_eq!(more[0].stream, Stream::Stderr);
        assert!(read_log(&dir.path().join("missing"), None, None, Some(3))
            .unwrap()
            .is_empty());
    }
}
