//! Every `sellerbridge` command the docs show is one the CLI takes: each command line in a code block
//! parses in full, and each command named in the text names real subcommands and flags.
use clap::Parser;
use clap::error::ErrorKind;
use sellerbridge_cli::args::Cli;

const DOCS: &[(&str, &str)] = &[
    ("README.md", include_str!("../../README.md")),
    ("docs/runbook.md", include_str!("../../docs/runbook.md")),
    ("docs/security.md", include_str!("../../docs/security.md")),
];

/// A command line split as a shell would (double quotes; `#` starts a comment), without its input
/// redirection, with the optional parts of a synopsis (`[--flag value]`) included.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in line.chars() {
        match c {
            '"' => (quoted, started) = (!quoted, true),
            '#' if !quoted && !started => break,
            '[' | ']' if !quoted => {}
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut current));
                }
                started = false;
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(current);
    }
    if let Some(redirect) = words.iter().position(|word| word == "<") {
        words.truncate(redirect);
    }
    words
}

/// Command lines in code blocks (continuation lines joined), and commands quoted in the text.
fn commands(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut lines, mut mentions) = (Vec::new(), Vec::new());
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block && (line.starts_with("sellerbridge ") || !pending.is_empty()) {
            let (body, continues) = match line.trim_end().strip_suffix('\\') {
                Some(body) => (body, true),
                None => (line, false),
            };
            pending.push_str(body);
            pending.push(' ');
            if !continues {
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    let mut rest = text;
    while let Some(start) = rest.find("`sellerbridge ") {
        let after = &rest[start + 1..];
        let end = after.find('`').expect("a closed code span");
        mentions.push(after[..end].split_whitespace().collect::<Vec<_>>().join(" "));
        rest = &after[end + 1..];
    }
    (lines, mentions)
}

#[test]
fn every_command_line_in_the_docs_parses() {
    let mut checked = 0;
    for (doc, text) in DOCS {
        let (lines, _) = commands(text);
        for line in lines {
            if let Err(error) = Cli::try_parse_from(words(&line)) {
                panic!("{doc}: `{}` does not parse:\n{error}", line.trim());
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} command lines found");
}

#[test]
fn every_command_named_in_the_text_exists() {
    let mut checked = 0;
    for (doc, text) in DOCS {
        let (_, mentions) = commands(text);
        for mention in mentions {
            // A command named in passing may leave out what it needs or hold a placeholder (`--order ID`),
            // but not name a command or flag that does not exist.
            match Cli::try_parse_from(words(&mention)) {
                Ok(_) => {}
                Err(error)
                    if matches!(
                        error.kind(),
                        ErrorKind::MissingRequiredArgument
                            | ErrorKind::ValueValidation
                            | ErrorKind::InvalidValue
                            | ErrorKind::MissingSubcommand
                            | ErrorKind::DisplayHelp
                            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    ) => {}
                Err(error) => panic!("{doc}: `{mention}` names no such command:\n{error}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 25, "only {checked} commands named");
}

#[test]
fn the_splitter_reads_quotes_comments_synopses_and_redirections() {
    assert_eq!(
        words(r##"sellerbridge fulfillment --store-order "#1001" [--sku A]  # state < x"##),
        ["sellerbridge", "fulfillment", "--store-order", "#1001", "--sku", "A"]
    );
    assert_eq!(words("sellerbridge app set-credentials < app.json"), ["sellerbridge", "app", "set-credentials"]);
    assert_eq!(words(r#"--carrier "Royal Mail=Royal Mail""#), ["--carrier", "Royal Mail=Royal Mail"]);
}
