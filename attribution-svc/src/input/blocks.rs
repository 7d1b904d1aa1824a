//! Parallel reading of a CSV file in blocks: the file is read in order in blocks of whole records
//! (cut after a record's end: the last line break of a block without a quote character, else
//! where `csv_core` ends a record), each block is parsed on whichever thread is free, and the
//! results are merged in file order. So the outcome is the one a single reader gives, for any
//! thread count.

use std::{
    collections::BTreeMap,
    io::{self, Read},
    sync::Mutex,
};

/// Block size: large enough that the per-block merge is cheap, small enough that every core gets
/// work on a file of a few MB.
pub const BLOCK: usize = 4 << 20;

/// A block of whole records.
#[derive(Debug)]
pub struct Block {
    /// Index in the file (0-based).
    pub index: usize,
    /// The bytes (whole records; the last block may end without a line break).
    pub bytes: Vec<u8>,
}

/// Reads a file in blocks of whole records.
#[derive(Debug)]
pub struct Blocks<R> {
    r: R,
    carry: Vec<u8>,
    eof: bool,
    next: usize,
    size: usize,
    /// Cut before the last run of lines with the same value in this column (of this many), so
    /// that a file grouped by that column (claims by beneficiary) has each group in one block.
    group: Option<(usize, usize)>,
    /// Bytes read so far.
    pub bytes_read: u64,
}

/// The `k`th of `width` comma-separated fields of an unquoted line (searched from the nearer end:
/// on a line of another width it may be another field, and such a line is rejected anyway).
pub fn nth_field(line: &[u8], k: usize, width: usize) -> Option<&[u8]> {
    if k >= width / 2 {
        let mut end = line.len();
        for _ in 0..width.checked_sub(1 + k)? {
            end = memchr::memrchr(b',', &line[..end])?;
        }
        let start = memchr::memrchr(b',', &line[..end]).map_or(0, |i| i + 1);
        Some(&line[start..end])
    } else {
        let mut start = 0;
        for _ in 0..k {
            start += memchr::memchr(b',', &line[start..])? + 1;
        }
        let end = memchr::memchr(b',', &line[start..]).map_or(line.len(), |i| start + i);
        Some(&line[start..end])
    }
}

/// Where the run of whole lines at the end of `buf[..end]` (`end` just after a line break, no
/// quote in `buf`) with the same field `k` of `width` starts; `None` when that run is all of it.
fn group_start(buf: &[u8], end: usize, k: usize, width: usize) -> Option<usize> {
    // The line ending at `to` (exclusive of its line break): its start and its field.
    let line_at = |to: usize| {
        let from = memchr::memrchr(b'\n', &buf[..to]).map_or(0, |i| i + 1);
        let line = &buf[from..to];
        (
            from,
            nth_field(line.strip_suffix(b"\r").unwrap_or(line), k, width),
        )
    };
    let (mut start, key) = line_at(end.checked_sub(1)?);
    let key = key?;
    while start > 0 {
        let (from, field) = line_at(start - 1);
        if field != Some(key) {
            return Some(start);
        }
        start = from;
    }
    None
}

/// Where the last whole record of `buf` ends (a block starts at a record start).
fn cut(buf: &[u8]) -> Option<usize> {
    if memchr::memchr(b'"', buf).is_none() {
        return memchr::memrchr(b'\n', buf).map(|i| i + 1);
    }
    let mut rdr = csv_core::Reader::new();
    let (mut out, mut ends) = ([0u8; 4096], [0usize; 256]);
    let (mut pos, mut cut) = (0, None);
    // An empty input means end of file to csv_core: stop before it.
    while pos < buf.len() {
        let (res, nin, _, _) = rdr.read_record(&buf[pos..], &mut out, &mut ends);
        pos += nin;
        match res {
            csv_core::ReadRecordResult::Record => cut = Some(pos),
            csv_core::ReadRecordResult::InputEmpty | csv_core::ReadRecordResult::End => break,
            _ => {}
        }
    }
    cut.filter(|&c| c > 0)
}

impl<R: Read> Blocks<R> {
    /// Blocks of about `size` bytes.
    pub fn new(r: R, size: usize) -> Blocks<R> {
        Blocks {
            r,
            carry: Vec::new(),
            eof: false,
            next: 0,
            size: size.max(1),
            group: None,
            bytes_read: 0,
        }
    }

    /// From now on, cut blocks before the last run of lines with the same field `k` (of `width`),
    /// and cut `first` (the block already read) so too, its tail read again with the next block.
    pub fn group_by(&mut self, first: &mut Block, k: usize, width: usize) {
        self.group = Some((k, width));
        if self.eof && self.carry.is_empty() {
            return;
        }
        if memchr::memchr(b'"', &first.bytes).is_none()
            && let Some(g) = group_start(&first.bytes, first.bytes.len(), k, width)
        {
            let mut carry = first.bytes.split_off(g);
            carry.append(&mut self.carry);
            self.carry = carry;
        }
    }

    /// Where `buf` is cut: after its last whole record ([`cut`]), moved back to the start of the
    /// last group of lines ([`Blocks::group_by`]) when there is one before it.
    fn cut_at(&self, buf: &[u8]) -> Option<usize> {
        let c = cut(buf)?;
        match self.group {
            Some((k, width)) if memchr::memchr(b'"', buf).is_none() => {
                Some(group_start(buf, c, k, width).unwrap_or(c))
            }
            _ => Some(c),
        }
    }

    /// The next block (`buf` is reused when given), or `None` at the end of the file.
    pub fn next_block(&mut self, mut buf: Vec<u8>) -> io::Result<Option<Block>> {
        buf.clear();
        buf.append(&mut self.carry);
        loop {
            if !self.eof {
                // Into the buffer's spare capacity: not zeroed first (a file reads into it
                // directly).
                buf.reserve(self.size);
                let n = (&mut self.r).take(self.size as u64).read_to_end(&mut buf)?;
                self.eof = n < self.size;
                self.bytes_read += n as u64;
            }
            if buf.is_empty() {
                return Ok(None);
            }
            if self.eof {
                break;
            }
            if let Some(c) = self.cut_at(&buf) {
                self.carry.extend_from_slice(&buf[c..]);
                buf.truncate(c);
                break;
            }
            // One record longer than a block: read more.
        }
        let index = self.next;
        self.next += 1;
        Ok(Some(Block { index, bytes: buf }))
    }
}

/// Reads `first` (the file's first block) and the rest of `blocks` on `threads` threads: `work`
/// parses a block into a `T`, `merge` receives them in block order. Returns the first read error.
pub fn run_from<R, T>(
    first: Block,
    blocks: Blocks<R>,
    threads: usize,
    work: impl Fn(&Block) -> T + Sync,
    mut merge: impl FnMut(T) + Send,
) -> io::Result<()>
where
    R: Read + Send,
    T: Send,
{
    struct Merge<T, M> {
        next: usize,
        pending: BTreeMap<usize, T>,
        merge: M,
    }
    let threads = threads.max(1);
    if threads == 1 {
        let mut blocks = blocks;
        merge(work(&first));
        let mut buf = first.bytes;
        while let Some(b) = blocks.next_block(buf)? {
            merge(work(&b));
            buf = b.bytes;
        }
        return Ok(());
    }
    let source = Mutex::new((blocks, Vec::<Vec<u8>>::new(), Some(first)));
    let sink = Mutex::new(Merge {
        next: 0,
        pending: BTreeMap::new(),
        merge: &mut merge,
    });
    let error: Mutex<Option<io::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let block = {
                        let Ok(mut src) = source.lock() else { return };
                        if let Some(b) = src.2.take() {
                            b
                        } else {
                            let buf = src.1.pop().unwrap_or_default();
                            match src.0.next_block(buf) {
                                Ok(Some(b)) => b,
                                Ok(None) => return,
                                Err(e) => {
                                    if let Ok(mut err) = error.lock() {
                                        err.get_or_insert(e);
                                    }
                                    return;
                                }
                            }
                        }
                    };
                    let t = work(&block);
                    if let Ok(mut src) = source.lock() {
                        src.1.push(block.bytes);
                    }
                    let Ok(mut m) = sink.lock() else { return };
                    m.pending.insert(block.index, t);
                    loop {
                        let next = m.next;
                        let Some(t) = m.pending.remove(&next) else {
                            break;
                        };
                        (m.merge)(t);
                        m.next += 1;
                    }
                }
            });
        }
    });
    match error.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// Runs `work(0)`, `work(1)`, ... `work(n - 1)` on `threads` threads, `merge` receiving the results
/// in index order on the calling thread (so the outcome is the one a single thread gives).
pub fn ordered_map<T: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(usize) -> T + Sync,
    mut merge: impl FnMut(T),
) {
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        (0..n).for_each(|i| merge(work(i)));
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, T)>(threads * 2);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n || tx.send((i, work(i))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let (mut want, mut pending) = (0, BTreeMap::new());
        for (i, t) in rx {
            pending.insert(i, t);
            while let Some(t) = pending.remove(&want) {
                merge(t);
                want += 1;
            }
        }
    });
}

/// The number of threads to use by default: every core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_blocks(data: &[u8], size: usize) -> Vec<Vec<u8>> {
        let mut b = Blocks::new(data, size);
        let mut out = Vec::new();
        while let Some(block) = b.next_block(Vec::new()).expect("read") {
            out.push(block.bytes);
        }
        out
    }

    /// Blocks are whole records, quoted line breaks included, and give back the file.
    #[test]
    fn blocks_are_whole_records() {
        let data = b"a,b\n1,\"x\ny\"\n2,z\r\n3,\"q\"\"\n\"\n4,w";
        for size in 1..data.len() + 2 {
            let blocks = all_blocks(data, size);
            assert_eq!(blocks.concat(), data.to_vec(), "size {size}");
            for b in &blocks[..blocks.len() - 1] {
                assert!(
                    b.ends_with(b"\n") || b.ends_with(b"\r"),
                    "size {size}: {b:?}"
                );
                // No block ends inside a quoted field: the quotes of each are balanced.
                assert_eq!(b.iter().filter(|&&c| c == b'"').count() % 2, 0);
            }
        }
        assert!(all_blocks(b"", 4).is_empty());
    }

    /// Results merge in block order whatever the thread count.
    #[test]
    fn merge_is_in_file_order() {
        let data: Vec<u8> = (0..5_000)
            .flat_map(|i| format!("{i},row\n").into_bytes())
            .collect();
        for threads in [1, 2, 3, 8] {
            let mut got = Vec::new();
            let mut blocks = Blocks::new(data.as_slice(), 64);
            let first = blocks.next_block(Vec::new()).expect("read").expect("first");
            run_from(
                first,
                blocks,
                threads,
                |b| (b.index, b.bytes.clone()),
                |(_, bytes)| got.extend(bytes),
            )
            .expect("run");
            assert_eq!(got, data, "threads {threads}");
        }
    }

    /// `ordered_map` merges in index order whatever the thread count.
    #[test]
    fn ordered_map_is_in_index_order() {
        for threads in [1, 2, 3, 8] {
            for n in [0, 1, 7, 100] {
                let mut got = Vec::new();
                ordered_map(n, threads, |i| i * i, |v| got.push(v));
                assert_eq!(got, (0..n).map(|i| i * i).collect::<Vec<_>>());
            }
        }
    }
}
