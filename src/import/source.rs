//! An export's bytes as the CSV reader sees them, and the physical line
//! each row starts on ([`Lines`]).
//!
//! The csv crate's `Position::line` counts `\n` bytes up to where the
//! previous record ended. A CRLF record ends at its `\r`, so the next one
//! is reported one line early (BurntSushi/rust-csv#395), and blank lines
//! it skips count towards the next row. [`Lines`] instead notes, as the
//! bytes go by, where each line that is not blank starts, and
//! [`Lines::row_line`] maps a record's position (the byte after the
//! previous record's terminator) to the line its first byte is on.

use std::{
    collections::VecDeque,
    io::{self, Read},
};

/// A reader that notes where each line that is not blank starts, so a
/// record's byte position can be turned into its physical line. A line
/// ends at `\r\n`, `\n` or a lone `\r` (the CSV reader's terminators).
pub struct Lines<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// The line of the last byte read (1 for the first).
    line: u64,
    /// The last byte read.
    prev: Option<u8>,
    /// `(offset, line)` of the starts of lines that are not blank, from the
    /// last asked-for position on.
    starts: VecDeque<(u64, u64)>,
}

impl<R> Lines<R> {
    /// Counts the lines of `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            line: 1,
            prev: None,
            starts: VecDeque::new(),
        }
    }

    fn note(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let starts_line = match self.prev {
                None => true,
                Some(b'\n') => true,
                Some(b'\r') => b != b'\n',
                Some(_) => false,
            };
            if starts_line {
                if self.prev.is_some() {
                    self.line += 1;
                }
                if b != b'\r' && b != b'\n' {
                    self.starts.push_back((self.offset, self.line));
                }
            }
            self.prev = Some(b);
            self.offset += 1;
        }
    }

    /// The physical line of the record the CSV reader reported at byte
    /// `position`: the first line starting there or later that is not
    /// blank (the reader skips blank lines and starts a record at a line
    /// start). Positions must not go backwards; the record must have been
    /// read.
    pub fn row_line(&mut self, position: u64) -> u64 {
        while self.starts.front().is_some_and(|(at, _)| *at < position) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.line, |(_, line)| *line)
    }
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.note(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte at a time, so every boundary case
    /// of the readers above is crossed.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(out)) => {
                    *out = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// Each record's physical line, as the import computes it, and (to
    /// show why) the csv crate's own `position().line()`.
    fn lines_of(input: &[u8]) -> (Vec<u64>, Vec<u64>) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Lines::new(Trickle(input)));
        let mut record = csv::ByteRecord::new();
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        while reader.read_byte_record(&mut record).unwrap_or(false) {
            let position = record
                .position()
                .cloned()
                .unwrap_or_else(csv::Position::new);
            ours.push(reader.get_mut().row_line(position.byte()));
            theirs.push(position.line());
        }
        (ours, theirs)
    }

    #[test]
    fn rows_are_numbered_by_physical_line_for_lf_crlf_and_cr() {
        let lf = b"id,name\n1,a\n2,b\n";
        let crlf = b"id,name\r\n1,a\r\n2,b\r\n";
        let cr = b"id,name\r1,a\r2,b";
        assert_eq!(lines_of(lf), (vec![1, 2, 3], vec![1, 2, 3]));
        // The csv crate counts `\n` up to the previous record's `\r`.
        assert_eq!(lines_of(crlf), (vec![1, 2, 3], vec![1, 1, 2]));
        assert_eq!(lines_of(cr).0, vec![1, 2, 3]);
    }

    #[test]
    fn a_quoted_line_break_moves_the_next_row_down() {
        // Line 1 header; line 2-3 the first row (a cell over two lines);
        // line 4 the next row; line 5-7 a cell over three CRLF lines;
        // line 8 the last row.
        let crlf = b"id,note\r\n1,\"two\r\nlines\"\r\n2,x\r\n3,\"a\r\nb\r\nc\"\r\n4,y\r\n";
        assert_eq!(lines_of(crlf).0, vec![1, 2, 4, 5, 8]);
        let lf = b"id,note\n1,\"two\nlines\"\n2,x\n3,\"a\nb\nc\"\n4,y";
        assert_eq!(lines_of(lf).0, vec![1, 2, 4, 5, 8]);
    }

    #[test]
    fn blank_lines_are_counted_but_never_a_row() {
        // Blank lines 2, 3 (CRLF and a lone CR) and 5; rows on 1, 4, 6.
        let input = b"id\r\n\r\n\r1\n\n2\n";
        assert_eq!(lines_of(input).0, vec![1, 4, 6]);
        // Leading blank lines: the header is on line 3.
        assert_eq!(lines_of(b"\n\r\nid\n1\n").0, vec![3, 4]);
    }
}
