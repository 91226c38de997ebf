//! The README's sample output is what the commands print: each block marked
//! `<!-- readme-output: ARGS -->` is compared with `cowrieql ARGS` run in order in one fresh
//! folder, with timings, memory and refresh times blanked on both sides.

mod common;

use std::process::Command;

/// Blanks what changes from run to run: speed and memory in the ingest summary, and when a
/// view was refreshed.
fn normalise(text: &str) -> String {
    text.lines()
        .map(|l| {
            if let Some(at) = l.find(" refreshed ").filter(|_| l.starts_with("view ")) {
                return format!("{} refreshed …", &l[..at]);
            }
            l.split("; ")
                .map(|seg| {
                    if seg.contains("events/s") || seg.contains("peak memory") {
                        seg.chars().map(|c| if c.is_ascii_digit() || c == '.' { 'N' } else { c }).collect()
                    } else {
                        seg.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .map(|l| l.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

#[test]
fn the_readme_shows_what_the_commands_print() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root.join("fixtures"), tmp.path().join("fixtures")).unwrap();
    let mut checked = 0;
    let mut rest = readme.as_str();
    while let Some(at) = rest.find("<!-- readme-output: ") {
        rest = &rest[at + "<!-- readme-output: ".len()..];
        let args = &rest[..rest.find(" -->").unwrap()];
        let block = &rest[rest.find("```\n").unwrap() + 4..];
        let shown = &block[..block.find("```").unwrap()];
        let out = Command::new(env!("CARGO_BIN_EXE_cowrieql"))
            .current_dir(tmp.path())
            .env_remove("COWRIEQL_DB")
            .args(args.split_whitespace())
            .output()
            .unwrap();
        assert!(out.status.success(), "cowrieql {args}: {}", String::from_utf8_lossy(&out.stderr));
        let printed = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            normalise(shown),
            normalise(&printed),
            "the README's output of `cowrieql {args}` is not what it prints"
        );
        checked += 1;
    }
    assert!(checked >= 2, "the README shows no command output to check");
}
