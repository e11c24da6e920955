//! Docker's json-file log format: one `{"log":…,"stream":…,"time":…}` object per line.
//!
//! The monitor appends with [`LogWriter`]; berthd reads with [`read_log`] (`docker logs`) and keeps
//! following with [`read_from`] from the offset it returned (`docker logs -f`).

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::timestamp::rfc3339_nano;

/// A container's log files: the container's output may hold secrets (dockerd's 0640).
const LOG_MODE: u32 = 0o640;

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

/// How a container's log file is rotated (`max-size`, `max-file`, `compress`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// Rotate once the file has reached this many bytes; None: never.
    pub max_size: Option<u64>,
    /// Files kept, the live one included (1: the live file is truncated instead).
    pub max_files: u32,
    /// gzip the rotated files.
    pub compress: bool,
}

/// dockerd writes an unterminated line once this much of it has accumulated.
pub const MAX_PARTIAL: usize = 16 * 1024;

/// Appends container output as json-file lines. A line is written when its '\n' arrives, when
/// 16 KiB of it have accumulated, or at [`LogWriter::flush`] (exit), as dockerd does. No fsync.
pub struct LogWriter {
    file: File,
    path: PathBuf,
    rotation: Rotation,
    /// Bytes in the live file.
    size: u64,
    partial: [Vec<u8>; 2],
    out: Vec<u8>,
}

/// The `n`th rotated file of `path` (1 is the newest), gzipped or not.
pub fn rotated_path(path: &Path, n: u32, compressed: bool) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    if compressed {
        name.push(".gz");
    }
    PathBuf::from(name)
}

impl LogWriter {
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(LOG_MODE)
            .open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            file,
            path: path.to_path_buf(),
            rotation,
            size,
            partial: [Vec::new(), Vec::new()],
            out: Vec::new(),
        })
    }

    /// Appends encoded lines: in one write, unless the file rotates, which is checked line by
    /// line (each line is one log message, as in dockerd).
    fn append_lines(&mut self, out: &[u8]) -> io::Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        if self.rotation.max_size.is_none() {
            return self.append(out);
        }
        for line in out.split_inclusive(|b| *b == b'\n') {
            self.append(line)?;
        }
        Ok(())
    }

    /// Appends whole lines, rotating first when the live file has reached `max-size` (as
    /// dockerd's log file: a file may pass the limit by the one write that reaches it).
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if self.rotation.max_size.is_some_and(|max| self.size >= max) {
            self.rotate()?;
        }
        self.file.write_all(data)?;
        self.size += data.len() as u64;
        Ok(())
    }

    /// `path` becomes `path.1` (gzipped with `compress`), older ones move up, the oldest past
    /// `max-file` goes; with `max-file` 1 the live file is truncated instead.
    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.rotation.max_files;
        if keep < 2 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let gz = self.rotation.compress;
        let oldest = rotated_path(&self.path, keep - 1, gz);
        match std::fs::remove_file(&oldest) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (1..keep - 1).rev() {
            match std::fs::rename(
                rotated_path(&self.path, n, gz),
                rotated_path(&self.path, n + 1, gz),
            ) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let first = rotated_path(&self.path, 1, false);
        std::fs::rename(&self.path, &first)?;
        self.file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(LOG_MODE)
            .open(&self.path)?;
        self.size = 0;
        if gz {
            compress_file(&first, &rotated_path(&self.path, 1, true))?;
        }
        Ok(())
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
        let r = self.append_lines(&out);
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
        self.append_lines(&out)
    }
}

/// gzips `from` into `to` (through a temp name, so readers see all of it or none), then removes
/// `from`.
fn compress_file(from: &Path, to: &Path) -> io::Result<()> {
    let mut tmp = to.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut input = File::open(from)?;
        let out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(LOG_MODE)
            .open(&tmp)?;
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        io::copy(&mut input, &mut gz)?;
        gz.finish()?;
    }
    std::fs::rename(&tmp, to)?;
    std::fs::remove_file(from)
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

/// The entries of the rotated files of `path` (`path.N[.gz]` … `path.1[.gz]`), oldest first.
fn read_rotated(path: &Path) -> io::Result<Vec<LogEntry>> {
    let mut files = Vec::new();
    for n in 1.. {
        let plain = rotated_path(path, n, false);
        let gz = rotated_path(path, n, true);
        if plain.exists() {
            files.push((plain, false));
        } else if gz.exists() {
            files.push((gz, true));
        } else {
            break;
        }
    }
    let mut out = Vec::new();
    for (file, compressed) in files.into_iter().rev() {
        let f = match File::open(&file) {
            Ok(f) => f,
            // Rotated away meanwhile: its lines moved to an older file we already read or lost.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let reader: Box<dyn Read> = if compressed {
            Box::new(flate2::read::GzDecoder::new(f))
        } else {
            Box::new(f)
        };
        for line in io::BufReader::new(reader).split(b'\n') {
            let mut line = line?;
            line.push(b'\n');
            if let Some(e) = parse_line(&line) {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// After a rotation under `logs -f`: what the follower had not read yet of the file that is now
/// `path.1` (plain or gzipped), from `offset` on.
pub fn read_rest_of_rotated(path: &Path, offset: u64) -> io::Result<Vec<LogEntry>> {
    let plain = rotated_path(path, 1, false);
    let reader: Box<dyn Read> = match File::open(&plain) {
        Ok(f) => Box::new(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match File::open(rotated_path(path, 1, true)) {
                Ok(f) => Box::new(flate2::read::GzDecoder::new(f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let mut r = io::BufReader::new(reader);
    io::copy(&mut (&mut r).take(offset), &mut io::sink())?;
    let mut out = Vec::new();
    for line in r.split(b'\n') {
        let mut line = line?;
        line.push(b'\n');
        if let Some(e) = parse_line(&line) {
            out.push(e);
        }
    }
    Ok(out)
}

/// `docker logs` over the live file and its rotated ones: the last `tail` entries of all of
/// them, then the time window. Returns the follow offset in the live file as [`read_log_at`].
pub fn read_all_logs(
    path: &Path,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    tail: Option<usize>,
) -> io::Result<(Vec<LogEntry>, u64)> {
    let older = read_rotated(path)?;
    if older.is_empty() {
        return read_log_at(path, since, until, tail);
    }
    let (live, end) = read_log_at(path, None, None, None)?;
    let mut all = older;
    all.extend(live);
    if let Some(n) = tail {
        let skip = all.len().saturating_sub(n);
        all.drain(..skip);
    }
    all.retain(|e| since.is_none_or(|s| e.time >= s) && until.is_none_or(|u| e.time <= u));
    Ok((all, end))
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

    fn rotated_writer(dir: &Path, compress: bool) -> (PathBuf, LogWriter) {
        let p = dir.join("c-json.log");
        let rotation = Rotation {
            max_size: Some(200),
            max_files: 3,
            compress,
        };
        (p.clone(), LogWriter::open(&p, rotation).unwrap())
    }

    fn numbered(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("line {i:03}\n").into_bytes())
            .collect()
    }

    #[test]
    fn rotation_keeps_max_file_files_and_logs_read_across_them() {
        for compress in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let (p, mut w) = rotated_writer(dir.path(), compress);
            let all = numbered(40);
            for l in &all {
                w.write(Stream::Stdout, l).unwrap();
            }
            // ~70 bytes a line, rotating at 200: the live file and two rotated ones remain.
            assert!(p.exists());
            assert!(rotated_path(&p, 1, compress).exists());
            assert!(rotated_path(&p, 2, compress).exists());
            assert!(!rotated_path(&p, 3, compress).exists());
            assert!(!rotated_path(&p, 1, !compress).exists());
            let (entries, end) = read_all_logs(&p, None, None, None).unwrap();
            let got = lines(&entries);
            // What is kept is the newest lines, in order, ending with the last one written.
            let want: Vec<&[u8]> = all[all.len() - got.len()..]
                .iter()
                .map(|v| v.as_slice())
                .collect();
            assert_eq!(got, want, "compress={compress}");
            assert!(got.len() >= 6 && got.len() < 40, "{}", got.len());
            assert_eq!(end, std::fs::metadata(&p).unwrap().len());
            let (tail, _) = read_all_logs(&p, None, None, Some(4)).unwrap();
            assert_eq!(lines(&tail), want[want.len() - 4..].to_vec());
        }
    }

    #[test]
    fn a_follower_finishes_the_rotated_file() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut w) = rotated_writer(dir.path(), true);
        let all = numbered(4);
        w.write(Stream::Stdout, &all[0]).unwrap();
        let (first, offset) = read_from(&p, 0).unwrap();
        assert_eq!(lines(&first), vec![all[0].as_slice()]);
        for l in &all[1..] {
            w.write(Stream::Stdout, l).unwrap();
        }
        // Rotated (and gzipped) under the follower: the rest of the old file, then the new one.
        let rest = read_rest_of_rotated(&p, offset).unwrap();
        let (live, _) = read_from(&p, 0).unwrap();
        let mut seen = lines(&first);
        seen.extend(lines(&rest));
        seen.extend(lines(&live));
        assert_eq!(seen, all.iter().map(|v| v.as_slice()).collect::<Vec<_>>());
    }

    #[test]
    fn max_file_one_truncates_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let rotation = Rotation {
            max_size: Some(100),
            max_files: 1,
            compress: false,
        };
        let mut w = LogWriter::open(&p, rotation).unwrap();
        for l in numbered(10) {
            w.write(Stream::Stdout, &l).unwrap();
        }
        assert!(std::fs::metadata(&p).unwrap().len() < 200);
        assert!(!rotated_path(&p, 1, false).exists());
    }

    #[test]
    fn lines_split_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut w = LogWriter::open(&p, Rotation::default()).unwrap();
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
        let mut w = LogWriter::open(&p, Rotation::default()).unwrap();
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
        let mut w = LogWriter::open(&p, Rotation::default()).unwrap();
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
