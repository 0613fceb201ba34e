//! What every rdapfleet binary does the same way at its command line.
//!
//! # Layout
//! - [`parse`]: parse the flags, or print help / version (exit 0) or a usage error on one
//!   line (`NAME: error: MESSAGE (see --help)`, exit 1).
//! - [`redact_url`]: a URL fit for logs and `Debug` (its user-info, say a Redis password,
//!   replaced).

use std::process::ExitCode;

use clap::error::ErrorKind;

/// Parse the command line of binary `name`. On `Err`, what clap had to say is printed and the
/// process should exit with the code given: 0 after `--help` / `--version`, 1 on a usage error
/// (one line on stderr) or when a subcommand is missing (the help on stderr).
pub fn parse<C: clap::Parser>(name: &str) -> Result<C, ExitCode> {
    C::try_parse().map_err(|e| exit(name, &e))
}

fn exit(name: &str, e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(1)
        }
        _ => {
            eprintln!("{name}: error: {} (see --help)", one_line(e));
            ExitCode::from(1)
        }
    }
}

/// clap's message without its usage block and trailer, folded onto one line.
pub fn one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:"))
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    let text = lines.join(" ");
    text.strip_prefix("error: ").unwrap_or(&text).to_string()
}

/// A URL with its user-info (`user:password@`) replaced by `***@`, for logs and `Debug`.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[authority_end..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{one_line, redact_url};

    #[test]
    fn urls_lose_their_user_info_and_keep_the_rest() {
        assert_eq!(
            redact_url("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://***@127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("redis://u:p@h:1"), "redis://***@h:1");
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        // An @ after the authority is not a password.
        assert_eq!(redact_url("http://h/a@b"), "http://h/a@b");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[derive(Parser, Debug)]
    #[command(name = "t")]
    struct Args {
        #[arg(long)]
        timeout: Option<u32>,
    }

    #[test]
    fn usage_errors_fold_onto_one_line_with_the_tip() {
        let e = Args::try_parse_from(["t", "--http-timeout", "2"]).unwrap_err();
        let line = one_line(&e);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("unexpected argument '--http-timeout'"),
            "{line}"
        );
        assert!(
            line.contains("tip: a similar argument exists: '--timeout'"),
            "{line}"
        );
        assert!(!line.contains("Usage"), "{line}");
        let e = Args::try_parse_from(["t", "--timeout", "x"]).unwrap_err();
        assert!(one_line(&e).starts_with("invalid value 'x' for '--timeout"));
    }
}
