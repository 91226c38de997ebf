//! `cowrieql fmt`: queries (`.cql`, `-` for standard input) and the queries inside report
//! YAML rewritten in the canonical form (`dsl::format`), comments kept; `--check` changes
//! nothing and exits 1 when a file would change (the CI gate).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use crate::diag::render;
use crate::dsl::format::{format, format_report_yaml};

#[derive(Args, Debug)]
pub struct FmtArgs {
    /// Query files (.cql), report files (.yaml), folders (recursively), or - for a query on
    /// standard input (written to standard output).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Change nothing: list the files that are not formatted and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

pub fn run_fmt(args: &FmtArgs) -> Result<i32> {
    if args.paths.len() == 1 && args.paths[0] == Path::new("-") {
        let mut src = String::new();
        std::io::stdin().read_to_string(&mut src).context("reading standard input")?;
        return match format(&src) {
            Ok(out) if args.check && out != src => {
                eprintln!("<stdin> is not formatted");
                Ok(1)
            }
            Ok(_) if args.check => Ok(0),
            Ok(out) => {
                print!("{out}");
                Ok(0)
            }
            Err(ds) => {
                ds.iter().for_each(|d| eprintln!("{}", render(d, &src, "<stdin>")));
                Ok(1)
            }
        };
    }
    let mut files = Vec::new();
    for p in &args.paths {
        super::compile::collect(p, &mut files)?;
    }
    let (mut changed, mut failed) = (0, 0);
    for f in &files {
        let src = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let yaml = f.extension().is_some_and(|x| x == "yaml" || x == "yml");
        let out = if yaml {
            format_report_yaml(&src).map_err(|e| {
                let origin = format!("{} (query at line {})", f.display(), e.line);
                e.diagnostics.iter().map(|d| render(d, &e.query, &origin)).collect::<Vec<_>>()
            })
        } else {
            format(&src).map_err(|ds| ds.iter().map(|d| render(d, &src, &f.display().to_string())).collect())
        };
        match out {
            Err(msgs) => {
                msgs.iter().for_each(|m| eprintln!("{m}"));
                failed += 1;
            }
            Ok(out) if out == src => {}
            Ok(out) => {
                changed += 1;
                if args.check {
                    super::say(format!("{}: not formatted (run `cowrieql fmt {}`)", f.display(), f.display()));
                } else {
                    std::fs::write(f, out).with_context(|| format!("writing {}", f.display()))?;
                    super::say(format!("formatted {}", f.display()));
                }
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} file(s) do not parse: left as they are");
        return Ok(1);
    }
    Ok(i32::from(args.check && changed > 0))
}
