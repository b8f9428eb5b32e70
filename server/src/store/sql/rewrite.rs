//! SQLite's placeholders as PostgreSQL's: `?N` becomes `$N`, and a bare
//! `?` the next number after the largest so far (SQLite's rule). Quoted
//! strings, quoted names and comments are left as they are. `LIKE`
//! becomes `ILIKE`, so that it means what it means in SQLite, and
//! `instr(` PostgreSQL's `strpos(`. Pure.

/// `sql` with PostgreSQL's placeholders.
pub(super) fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut largest = 0u32;
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                // To the closing quote; a doubled quote is part of the text.
                out.push(c);
                for (_, d) in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if sql[i..].starts_with("--") => {
                out.push(c);
                for (_, d) in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            // SQLite's instr(text, part) is PostgreSQL's strpos.
            'i' if sql[i..].starts_with("instr(")
                && !sql[..i].ends_with(|p: char| p.is_ascii_alphanumeric() || p == '_') =>
            {
                out.push_str("strpos");
                for _ in 0..4 {
                    chars.next();
                }
            }
            // SQLite's LIKE is blind to ASCII case; PostgreSQL's ILIKE is.
            'L' if sql[i..].starts_with("LIKE")
                && !sql[..i].ends_with(|p: char| p.is_ascii_alphanumeric() || p == '_')
                && !sql[i + 4..].starts_with(|n: char| n.is_ascii_alphanumeric() || n == '_') =>
            {
                out.push_str("ILIKE");
                for _ in 0..3 {
                    chars.next();
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    digits.push(d);
                    chars.next();
                }
                let n = match digits.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => largest + 1,
                };
                largest = largest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn numbered_and_bare_placeholders_become_dollars() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c = ?2 OR d = ?1"),
            "SELECT a FROM t WHERE b = $1 AND c = $2 OR d = $1"
        );
        assert_eq!(placeholders("VALUES (?, ?, ?)"), "VALUES ($1, $2, $3)");
        // SQLite numbers a bare `?` after the largest so far.
        assert_eq!(placeholders("?3, ?"), "$3, $4");
        assert_eq!(placeholders("x = ?12"), "x = $12");
    }

    #[test]
    fn quoted_text_names_and_comments_are_left_alone() {
        assert_eq!(
            placeholders("SELECT '?1', 'it''s ?', \"col?\" FROM t WHERE a = ?1"),
            "SELECT '?1', 'it''s ?', \"col?\" FROM t WHERE a = $1"
        );
        assert_eq!(
            placeholders("SELECT 1 -- what? ?2\nWHERE a = ?1"),
            "SELECT 1 -- what? ?2\nWHERE a = $1"
        );
        assert_eq!(placeholders("a - b = ?1"), "a - b = $1");
        assert_eq!(placeholders("héllo = ?"), "héllo = $1");
        assert_eq!(
            placeholders("name LIKE ?1 ESCAPE '\\' AND x NOT LIKE 'LIKE' AND LIKELY = 1"),
            "name ILIKE $1 ESCAPE '\\' AND x NOT ILIKE 'LIKE' AND LIKELY = 1"
        );
        assert_eq!(
            placeholders("instr(lower(a), ?1) > 0 AND xinstr(b) AND 'instr('"),
            "strpos(lower(a), $1) > 0 AND xinstr(b) AND 'instr('"
        );
    }
}
