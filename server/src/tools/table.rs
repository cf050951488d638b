//! Text output shared by the tools: left-aligned, space-separated columns as Kafka's
//! `kafka-consumer-groups.sh` prints them (each column as wide as its widest cell, one space
//! between columns, no trailing spaces).

/// Renders `header` and `rows` as an aligned table, one line per row, each ending in `\n`.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(cell);
            let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A number, or Kafka's `-` for unknown.
pub fn or_dash(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Kafka prints an empty string as `-` in these tables.
pub fn text_or_dash(value: &str) -> String {
    if value.is_empty() {
        "-".to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_without_trailing_spaces() {
        let rows = vec![
            vec!["g".to_string(), "orders".to_string(), "0".to_string(), "-".to_string()],
            vec!["group-2".to_string(), "t".to_string(), "10".to_string(), "1234".to_string()],
        ];
        let text = render(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], &rows);
        assert_eq!(
            text,
            "GROUP   TOPIC  PARTITION NEW-OFFSET\n\
             g       orders 0         -\n\
             group-2 t      10        1234\n"
        );
        assert_eq!(render(&["A", "B"], &[]), "A B\n");
        assert_eq!(or_dash(None), "-");
        assert_eq!(or_dash(Some(-1)), "-1");
        assert_eq!(text_or_dash(""), "-");
    }
}
