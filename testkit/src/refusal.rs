//! The shape every rdapfleet binary gives a refused command line or input: exit 1, nothing on
//! stdout, and one line on stderr, `PROGRAM: error: MESSAGE`.

use std::process::Output;

/// Assert that `out` is a refusal by `program` whose message contains `needle`: exit code 1,
/// empty stdout, and exactly one stderr line starting `PROGRAM: error: ` (log lines at `WARN`
/// level that a binary may print before it refuses are not counted).
#[track_caller]
pub fn assert_refused(out: &Output, program: &str, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains(" WARN ")).collect();
    assert_eq!(lines.len(), 1, "one error line expected: {stderr}");
    assert!(
        lines[0].starts_with(&format!("{program}: error: ")),
        "{stderr}"
    );
    assert!(lines[0].contains(needle), "expected {needle:?} in {stderr}");
}
