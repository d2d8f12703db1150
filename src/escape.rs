//! Text from Git, the cluster, Prometheus or a Job made safe for where tidegate writes it:
//! markdown (pull-request bodies and comments, drift reports), HTML, and commit messages.
//!
//! Nothing that comes from outside may change the structure around it: close a code fence or
//! a table cell, start a heading, link, image or HTML tag, mention a person or a team, or add
//! a line (and so a trailer) to a commit message. Pure: text in, text out.

/// `text` as an inline code span: on one line, fenced by more backticks than it contains in a
/// row, `|` escaped so it cannot end a table cell.
#[must_use]
pub fn code(text: &str) -> String {
    let line = one_line(text, usize::MAX).replace('|', "\\|");
    let ticks = "`".repeat(longest_run(&line, '`') + 1);
    // A span that starts or ends with a backtick needs a space inside its fences.
    let pad = if line.starts_with('`') || line.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{line}{pad}{ticks}")
}

/// `text` as a fenced code block with `info` (`diff`): its fence is longer than any run of
/// backticks in the text, so the text cannot close it.
#[must_use]
pub fn block(text: &str, info: &str) -> String {
    let fence = "`".repeat((longest_run(text, '`') + 1).max(3));
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{info}\n{text}{newline}{fence}\n")
}

/// `text` as markdown prose: on one line, every character markdown or HTML gives meaning to
/// escaped, and `@` and `#` kept from mentioning people or linking issues.
#[must_use]
pub fn prose(text: &str) -> String {
    let mut out = String::new();
    for character in one_line(text, usize::MAX).chars() {
        match character {
            '@' => out.push_str("@\u{200b}"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '!' | '|' | '~'
            | '{' | '}' | '.' => {
                out.push('\\');
                out.push(character);
            }
            other => out.push(other),
        }
    }
    out
}

/// `text` for HTML element content or a quoted attribute value, mentioning no one and
/// linking nothing.
#[must_use]
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Forges link mentions even in HTML: an entity stays an `@` for the reader.
            '@' => out.push_str("&#64;"),
            // Nor does text in HTML become a link, whatever a renderer autolinks.
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            ':' => out.push_str("&#58;"),
            other => out.push(other),
        }
    }
    out
}

/// `text` on one line of at most `max` characters: control characters (newlines among them,
/// so no extra line or trailer reaches a commit message) and bidirectional overrides become
/// spaces, runs of spaces one, and what is cut ends in `…`.
#[must_use]
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut last_space = true;
    for character in text.chars() {
        let bidi = matches!(character, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        let space = character.is_whitespace() || character.is_control() || bidi;
        if space {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(character);
            last_space = false;
        }
    }
    let trimmed = out.trim_end();
    if trimmed.chars().count() <= max {
        return trimmed.to_owned();
    }
    let mut cut: String = trimmed.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn longest_run(text: &str, wanted: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for character in text.chars() {
        run = if character == wanted { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Strings that try to break out of where they are put.
    pub(crate) const HOSTILE: &[&str] = &[
        "```\n# injected heading\n```",
        "`",
        "``a``",
        "| a | b |",
        "@admin please approve",
        "@org/team",
        "#1 closes everything",
        "<img src=x onerror=alert(1)>",
        "</code></summary><script>alert(1)</script>",
        "[click](https://evil.example/)",
        "![image](https://evil.example/x.png)",
        "line one\nTidegate-Revert: 0123456789abcdef0123456789abcdef01234567",
        "carriage\rreturn\r\n",
        "\u{202e}txt.exe",
        "**bold** _em_ ~~strike~~",
        "---",
        "> quote",
        "\0nul",
        "&amp; &lt;",
    ];

    /// `markdown` without its code spans and blocks: what a renderer would interpret.
    pub(crate) fn outside_code(markdown: &str) -> String {
        let chars: Vec<char> = markdown.chars().collect();
        let mut out = String::new();
        let mut at = 0;
        while at < chars.len() {
            if chars[at] != '`' {
                out.push(chars[at]);
                at += 1;
                continue;
            }
            let run = chars[at..].iter().take_while(|c| **c == '`').count();
            let mut end = at + run;
            // The closing fence: the next run of exactly `run` backticks.
            loop {
                if end >= chars.len() {
                    break;
                }
                if chars[end] == '`' {
                    let closing = chars[end..].iter().take_while(|c| **c == '`').count();
                    end += closing;
                    if closing == run {
                        break;
                    }
                } else {
                    end += 1;
                }
            }
            at = end;
        }
        out
    }

    #[test]
    fn code_spans_hold_their_text_on_one_line() {
        for hostile in HOSTILE {
            let span = code(hostile);
            assert!(!span.contains('\n'), "{span:?}");
            let ticks = span.chars().take_while(|c| *c == '`').count();
            let inner = &span[ticks..span.len() - ticks];
            assert!(
                longest_run(inner, '`') < ticks,
                "{hostile:?} closes its span: {span:?}"
            );
            assert!(!inner.replace("\\|", "").contains('|'), "{span:?}");
        }
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("``a``"), "``` ``a`` ```");
    }

    #[test]
    fn blocks_cannot_be_closed_by_their_text() {
        for hostile in HOSTILE {
            let fenced = block(hostile, "diff");
            let fence: String = fenced.chars().take_while(|c| *c == '`').collect();
            let body = &fenced[fence.len()..fenced.len() - fence.len() - 1];
            assert!(!body.contains(&fence), "{hostile:?}: {fenced:?}");
            assert!(fenced.ends_with(&format!("{fence}\n")));
        }
    }

    #[test]
    fn prose_mentions_links_and_markup_nothing() {
        for hostile in HOSTILE {
            let text = prose(hostile);
            assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
            assert!(!text.contains('<'), "{text:?}");
            assert!(
                !text.contains("@a") && !text.contains("@o"),
                "{text:?} mentions someone"
            );
            for markup in ["[", "](", "**", "#1", "`"] {
                assert!(
                    !text
                        .replace(&format!("\\{}", &markup[..1]), "")
                        .contains(markup),
                    "{hostile:?} keeps {markup:?}: {text:?}"
                );
            }
        }
    }

    #[test]
    fn html_text_opens_no_tag_and_closes_no_attribute() {
        for hostile in HOSTILE {
            let text = html(hostile);
            assert!(!text.contains(['<', '>', '"', '\'']), "{text:?}");
        }
    }

    #[test]
    fn one_line_keeps_trailers_and_lines_out() {
        let line = one_line(
            "aborted\nTidegate-Revert: 0123456789abcdef0123456789abcdef01234567",
            200,
        );
        assert_eq!(
            line,
            "aborted Tidegate-Revert: 0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(one_line("\u{202e}txt", 10), "txt");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("  a \t b  ", 10), "a b");
    }
}
