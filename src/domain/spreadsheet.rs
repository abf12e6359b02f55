//! CSV cells that a spreadsheet opens as text, never as a formula.
//!
//! Excel, LibreOffice and Google Sheets evaluate a cell that starts with
//! `=`, `+`, `-` or `@` as a formula (and a leading tab or carriage return
//! can hide one), so text such as an account's industry
//! `=HYPERLINK("http://evil.example","x")` becomes a live link or worse when
//! someone opens the export. OWASP's rule for CSV injection: prefix such a
//! cell with a single quote, which spreadsheets show as text.
//! <https://owasp.org/www-community/attacks/CSV_Injection>

use std::borrow::Cow;

/// Whether a spreadsheet would read a cell starting with this character as
/// the start of a formula.
fn triggers(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// Whether the whole cell is a plain decimal number (`-12.5`, `+3`,
/// `1e-3`), which a spreadsheet reads as that number and not as a formula.
fn is_number(cell: &str) -> bool {
    let unsigned = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty())
        }
        None => !mantissa.is_empty() && digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(|e| !e.is_empty() && digits(e))
}

/// Whether [`neutralise`] prefixes the cell: after any leading `'`s (a cell
/// that already looks neutralised gets one more, so [`restore`] can tell
/// them apart), it starts a formula and is not a number.
fn needs_quote(cell: &str) -> bool {
    let rest = cell.trim_start_matches('\'');
    rest.starts_with(triggers) && !is_number(rest)
}

/// The cell as a spreadsheet should show it: text that starts with `=`,
/// `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, unless the
/// whole cell is a number. Every other cell is returned as it is. Quoting
/// for CSV (commas, quotes, line breaks) is the writer's job, after this.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if needs_quote(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Undoes [`neutralise`]: a cell it prefixed loses the `'` again, any
/// other cell is returned as it is. A CSV file Handoff wrote can so be
/// fixed in a spreadsheet and read back with the original values.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_quote(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_get_a_leading_quote() {
        for (cell, shown) in [
            (
                r#"=HYPERLINK("http://evil.example","x")"#,
                r#"'=HYPERLINK("http://evil.example","x")"#,
            ),
            ("+1 555 0100", "'+1 555 0100"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            ("-", "'-"),
            ("-.", "'-."),
            ("-1e", "'-1e"),
            ("-inf", "'-inf"),
            ("--1", "'--1"),
            // Text that looks neutralised already gets one more quote.
            ("'=1+1", "''=1+1"),
        ] {
            assert_eq!(neutralise(cell), shown, "{cell:?}");
        }
    }

    #[test]
    fn numbers_and_ordinary_text_stay_as_they_are() {
        for cell in [
            "-12.5", "+3", "-0.25", "-.5", "-5.", "1e-3", "-2E+10", "42", "", "Software", "a=b",
            " =1", "'abc", "'-12.5",
        ] {
            assert!(
                matches!(neutralise(cell), Cow::Borrowed(c) if c == cell),
                "{cell:?}"
            );
        }
    }

    #[test]
    fn restoring_a_neutralised_cell_gives_the_original_back() {
        for cell in [
            "=1+1", "@x", "-12.5", "plain", "'=1+1", "''@x", "'-12.5", "'", "",
        ] {
            assert_eq!(restore(&neutralise(cell)), cell, "{cell:?}");
        }
        // A quote the user wrote before a number or text is kept.
        assert_eq!(restore("'-12.5"), "'-12.5");
        assert_eq!(restore("'abc"), "'abc");
        assert_eq!(restore("'=1+1"), "=1+1");
    }
}
