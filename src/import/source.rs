//! An export's bytes as the CSV reader sees them: the encoding its byte
//! order mark names, decoded to UTF-8 and without the mark ([`open`]), and
//! the physical line each row starts on ([`Lines`]).
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

/// The encodings an export may be in, told by its byte order mark; a
/// file without one is read as UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, with or without a byte order mark.
    Utf8,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
}

impl Encoding {
    /// The encoding's usual name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Utf16Le => "UTF-16LE",
            Self::Utf16Be => "UTF-16BE",
        }
    }

    /// The encoding a file starting with `start` (its first four bytes, or
    /// all of a shorter file) is in, and the length of its byte order mark;
    /// `Err` names an encoding the import cannot read.
    pub fn sniff(start: &[u8]) -> Result<(Self, usize), String> {
        match start {
            [0xFF, 0xFE, 0, 0, ..] | [0, 0, 0xFE, 0xFF, ..] => Err(
                "the file is UTF-32 (its byte order mark says so), which the import does not \
                 read: export it as UTF-8"
                    .to_owned(),
            ),
            [0xEF, 0xBB, 0xBF, ..] => Ok((Self::Utf8, 3)),
            [0xFF, 0xFE, ..] => Ok((Self::Utf16Le, 2)),
            [0xFE, 0xFF, ..] => Ok((Self::Utf16Be, 2)),
            _ => Ok((Self::Utf8, 0)),
        }
    }
}

/// The byte the UTF-16 decoder writes for a malformed sequence (an unpaired
/// surrogate, an odd last byte): never part of UTF-8, so the row that holds
/// it fails as not being text instead of storing a replacement character.
pub const MALFORMED_MARK: u8 = 0xFF;

/// `input` from its start, read as UTF-8 without its byte order mark: the
/// encoding found and the reader.
pub fn open<R: Read + Send + 'static>(
    mut input: R,
) -> io::Result<(Encoding, Box<dyn Read + Send>)> {
    let mut start = [0u8; 4];
    let mut len = 0;
    while len < start.len() {
        match input.read(&mut start[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let (encoding, bom) = Encoding::sniff(&start[..len])
        .map_err(|message| io::Error::new(io::ErrorKind::InvalidData, message))?;
    let rest = io::Cursor::new(start[bom..len].to_vec()).chain(input);
    let reader: Box<dyn Read + Send> = match encoding {
        Encoding::Utf8 => Box::new(rest),
        Encoding::Utf16Le => Box::new(Utf16::new(rest, encoding_rs::UTF_16LE)),
        Encoding::Utf16Be => Box::new(Utf16::new(rest, encoding_rs::UTF_16BE)),
    };
    Ok((encoding, reader))
}

/// UTF-16 bytes read as UTF-8.
struct Utf16<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    /// Decoded bytes not yet read, from `out_at`.
    out: Vec<u8>,
    out_at: usize,
    done: bool,
}

impl<R: Read> Utf16<R> {
    fn new(inner: R, encoding: &'static encoding_rs::Encoding) -> Self {
        Self {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            out: Vec::new(),
            out_at: 0,
            done: false,
        }
    }

    /// Decodes the next chunk of input into `out`.
    fn fill(&mut self) -> io::Result<()> {
        let mut raw = [0u8; 8 * 1024];
        let n = loop {
            match self.inner.read(&mut raw) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        let last = n == 0;
        self.out.clear();
        self.out_at = 0;
        let mut src = &raw[..n];
        // A UTF-16 unit is at most three UTF-8 bytes; a unit held over from
        // the last chunk adds one more.
        let mut dst = vec![0u8; 3 * (n + 4)];
        loop {
            let (result, read, written) = self
                .decoder
                .decode_to_utf8_without_replacement(src, &mut dst, last);
            self.out.extend_from_slice(&dst[..written]);
            src = &src[read..];
            match result {
                encoding_rs::DecoderResult::InputEmpty => break,
                encoding_rs::DecoderResult::OutputFull => {}
                encoding_rs::DecoderResult::Malformed(_, _) => self.out.push(MALFORMED_MARK),
            }
        }
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for Utf16<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_at == self.out.len() {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

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

    #[test]
    fn the_byte_order_mark_names_the_encoding() {
        assert_eq!(Encoding::sniff(b"\xEF\xBB\xBFid"), Ok((Encoding::Utf8, 3)));
        assert_eq!(Encoding::sniff(b"\xFF\xFEi\0"), Ok((Encoding::Utf16Le, 2)));
        assert_eq!(Encoding::sniff(b"\xFE\xFF\0i"), Ok((Encoding::Utf16Be, 2)));
        assert_eq!(Encoding::sniff(b"id,n"), Ok((Encoding::Utf8, 0)));
        assert_eq!(Encoding::sniff(b""), Ok((Encoding::Utf8, 0)));
        assert_eq!(Encoding::sniff(b"\xEF\xBB"), Ok((Encoding::Utf8, 0)));
        let utf32 = Encoding::sniff(b"\xFF\xFE\0\0").unwrap_err();
        assert!(utf32.contains("UTF-32"), "{utf32}");
    }

    fn read_all(input: &'static [u8]) -> (Encoding, Vec<u8>) {
        let (encoding, mut reader) = open(Trickle(input)).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        (encoding, out)
    }

    #[test]
    fn utf8_loses_its_mark_and_utf16_is_decoded() {
        assert_eq!(
            read_all(b"\xEF\xBB\xBFRecord ID\n"),
            (Encoding::Utf8, b"Record ID\n".to_vec())
        );
        assert_eq!(read_all(b"a,b"), (Encoding::Utf8, b"a,b".to_vec()));
        assert_eq!(read_all(b""), (Encoding::Utf8, Vec::new()));
        // "Zoë,😀\r\n": ë is one unit (U+00EB), the emoji a surrogate pair
        // (D83D DE00).
        let le = b"\xFF\xFEZ\0o\0\xEB\0,\0\x3D\xD8\x00\xDE\r\0\n\0";
        let be = b"\xFE\xFF\0Z\0o\0\xEB\0,\xD8\x3D\xDE\x00\0\r\0\n";
        let text = "Zoë,😀\r\n".as_bytes().to_vec();
        assert_eq!(read_all(le), (Encoding::Utf16Le, text.clone()));
        assert_eq!(read_all(be), (Encoding::Utf16Be, text));
    }

    #[test]
    fn malformed_utf16_is_marked_not_replaced() {
        // An unpaired high surrogate before "x", and an odd last byte.
        let (_, out) = read_all(b"\xFF\xFEa\0\x3D\xD8x\0b");
        assert_eq!(out, vec![b'a', MALFORMED_MARK, b'x', MALFORMED_MARK]);
        assert!(String::from_utf8(out).is_err());
    }
}
