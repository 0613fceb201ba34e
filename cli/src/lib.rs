//! What every rdapfleet binary does the same way at its command line.
//!
//! # Layout
//! - [`parse`]: parse the flags, or print help / version (exit 0) or a usage error on one
//!   line (`NAME: error: MESSAGE (see --help)`, exit 1).
//! - [`redact_url`]: a URL fit for logs and `Debug` (its user-info, say a Redis password,
//!   replaced).
//! - [`parse_duration`], [`parse_positive_duration`], [`parse_size`]: the flag values every
//!   binary reads the same way (`30s`, `1m30s`, `250ms`; `16MiB`, `512KiB`).
//! - [`read_token_file`], [`check_token`]: the fleet's shared bearer token, read and checked
//!   the same way by the coordinator and the workers.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

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

/// Parse a human duration: `250ms`, `30s`, `5m`, `1h 30m`; a bare number is seconds (`2`,
/// `0.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| {
            format!("invalid duration {s:?}: not a number of seconds a clock can hold")
        });
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration {s:?}: {e} (examples: 500ms, 30s, 5m, 1h)"))
}

/// [`parse_duration`], refusing zero (for timeouts and intervals, where zero means nothing
/// can ever succeed).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        Duration::ZERO => Err(format!(
            "{s:?} is zero; give a positive duration such as 30s"
        )),
        d => Ok(d),
    }
}

/// Parse a size in bytes: a number with an optional unit, `KiB`/`MiB`/`GiB` (powers of 1024)
/// or `KB`/`MB`/`GB` (powers of 1000); `16MiB`, `512 KiB`, `1048576`. At most 1 GiB.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let bad = || format!("invalid size {s:?} (examples: 16MiB, 512KiB, 4MB, 1048576)");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .and_then(|v| usize::try_from(v).ok())
        .filter(|&v| v <= 1 << 30)
        .ok_or_else(|| format!("size {s:?} is too large (at most 1GiB)"))
}

/// Check a bearer token: non-empty visible ASCII without spaces (it travels in an HTTP/2
/// header as `Bearer <token>`).
pub fn check_token(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("the token is empty".into());
    }
    match value.bytes().position(|b| !(0x21..=0x7e).contains(&b)) {
        Some(pos) => Err(format!(
            "the token has a character that cannot travel in a gRPC header at byte {pos} \
             (only visible ASCII without spaces is allowed; `openssl rand -hex 32` makes a good one)"
        )),
        None => Ok(()),
    }
}

/// Read a token file: its whole content less one trailing newline (`\n` or `\r\n`), checked
/// by [`check_token`]. Errors name the file and never quote its content.
pub fn read_token_file(path: &Path) -> Result<String, String> {
    let raw = std::fs::read(path)
        .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
    let text = String::from_utf8(raw).map_err(|_| {
        format!(
            "the token file {} is not text (expected one line of visible ASCII)",
            path.display()
        )
    })?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return Err(format!(
            "the token file {} is empty: put the fleet's shared token in it (`openssl rand -hex 32`)",
            path.display()
        ));
    }
    check_token(line).map_err(|e| format!("the token file {}: {e}", path.display()))?;
    Ok(line.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use std::time::Duration;

    use super::{
        check_token, one_line, parse_duration, parse_positive_duration, parse_size,
        read_token_file, redact_url,
    };

    #[test]
    fn durations_sizes_and_their_refusals() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 1m30s "), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in [
            "",
            "soon",
            "-1s",
            "-2",
            "NaN",
            "inf",
            "1e300",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_positive_duration("0s").unwrap_err().contains("zero"));
        assert_eq!(parse_positive_duration("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("4MB"), Ok(4_000_000));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("2GiB").unwrap_err().contains("too large"));
        for bad in ["", "MiB", "1.5MiB", "-1", "12 parsecs"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn token_files_lose_one_newline_and_are_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let write = |name: &str, body: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, body).unwrap();
            p
        };
        assert_eq!(read_token_file(&write("a", b"s3cret\n")).unwrap(), "s3cret");
        assert_eq!(
            read_token_file(&write("b", b"s3cret\r\n")).unwrap(),
            "s3cret"
        );
        assert_eq!(read_token_file(&write("c", b"s3cret")).unwrap(), "s3cret");
        for blank in [&b"\n"[..], b"", b"  \t\n"] {
            let empty = read_token_file(&write("d", blank)).unwrap_err();
            assert!(empty.contains("is empty"), "{empty}");
        }
        let two = read_token_file(&write("e", b"s3cret\n\n")).unwrap_err();
        assert!(two.contains("cannot travel"), "{two}");
        let blank = read_token_file(&write("f", b"s3 cret")).unwrap_err();
        assert!(
            blank.contains("byte 2") && !blank.contains("s3 cret"),
            "{blank}"
        );
        let binary = read_token_file(&write("g", &[0xff, 0xfe])).unwrap_err();
        assert!(binary.contains("not text"), "{binary}");
        let missing = read_token_file(&dir.join("missing")).unwrap_err();
        assert!(missing.contains("cannot read the token file"), "{missing}");
        assert!(check_token("abc").is_ok());
    }

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
