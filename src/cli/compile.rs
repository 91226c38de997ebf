use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::check::ir::Ty;
use crate::compile::compile;
use crate::diag::{locate, render, Diagnostic};
use crate::sql::{self, Compiled, Dialect};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DialectArg {
    Sqlite,
    Postgres,
    All,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    /// A query file (.cql); or give the query with -e.
    #[arg(required_unless_present = "expr")]
    pub file: Option<PathBuf>,
    /// The query text.
    #[arg(short = 'e', long = "expr", conflicts_with = "file")]
    pub expr: Option<String>,
    /// Which database's SQL to print.
    #[arg(long, value_enum, default_value = "all")]
    pub dialect: DialectArg,
    /// Declare a parameter's type: NAME=int|float|text|bool|timestamp|duration (repeatable).
    #[arg(long = "param-type", value_name = "NAME=TYPE")]
    pub param_types: Vec<String>,
    /// Output format: text, or json for tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Files or folders to check (.cql queries; folders recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format: text, or json for tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn parse_param_types(specs: &[String]) -> Result<HashMap<String, Ty>> {
    let mut out = HashMap::new();
    for s in specs {
        let Some((name, ty)) = s.split_once('=') else { bail!("--param-type wants NAME=TYPE, got {s:?}") };
        let Some(t) = Ty::parse(ty) else {
            bail!("unknown type {ty:?} for parameter {name}: use int, float, text, bool, timestamp or duration")
        };
        out.insert(name.trim_start_matches('$').to_string(), t);
    }
    Ok(out)
}

fn dialects(d: DialectArg) -> Vec<&'static dyn Dialect> {
    match d {
        DialectArg::Sqlite => vec![&sql::SQLITE],
        DialectArg::Postgres => vec![&sql::POSTGRES],
        DialectArg::All => sql::all_dialects().to_vec(),
    }
}

/// Prints diagnostics; JSON goes to stdout (for machines), text to stderr.
pub fn report(diags: &[Diagnostic], src: &str, origin: &str, format: Format) {
    for d in diags {
        match format {
            Format::Text => eprint!("{}", render(d, src, origin)),
            Format::Json => super::say(serde_json::to_string(&locate(d, src, origin)).unwrap_or_default()),
        }
    }
}

fn print_compiled(c: &Compiled) {
    super::say(format!("-- {}", c.dialect));
    for s in c.setup() {
        super::say(format!("{s};\n"));
    }
    super::say(format!("{};", c.sql));
    if !c.params.is_empty() {
        let binds: Vec<String> =
            c.params.iter().enumerate().map(|(i, p)| format!("{} = ${} ({})", i + 1, p.name, p.ty.name())).collect();
        super::say(format!("-- binds: {}", binds.join(", ")));
    }
}

pub fn run_compile(args: &CompileArgs) -> Result<i32> {
    let (src, origin) = match (&args.expr, &args.file) {
        (Some(e), _) => (e.clone(), "<expr>".to_string()),
        (None, Some(f)) => (
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
            f.display().to_string(),
        ),
        (None, None) => bail!("give a query file or -e TEXT"),
    };
    let declared = parse_param_types(&args.param_types)?;
    let mut failed = false;
    let mut done = Vec::new();
    let mut seen: Vec<Diagnostic> = Vec::new();
    for d in dialects(args.dialect) {
        match compile(&src, d, &declared) {
            Ok(c) => done.push(c),
            Err(diags) => {
                failed = true;
                let new: Vec<Diagnostic> = diags.into_iter().filter(|x| !seen.contains(x)).collect();
                report(&new, &src, &origin, args.format);
                seen.extend(new);
            }
        }
    }
    if failed {
        return Ok(1);
    }
    match args.format {
        Format::Text => done.iter().enumerate().for_each(|(i, c)| {
            if i > 0 {
                super::say("");
            }
            print_compiled(c)
        }),
        Format::Json => super::say(serde_json::to_string_pretty(&done)?),
    }
    Ok(0)
}

pub(crate) fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "cql" || x == "yaml" || x == "yml") {
                collect(&e, out)?;
            }
        }
    } else if p.exists() {
        out.push(p.to_path_buf());
    } else {
        bail!("{}: no such file or folder", p.display());
    }
    Ok(())
}

/// `cowrieql check`: compile everything for every dialect; non-zero on any error.
pub fn run_check(args: &CheckArgs) -> Result<i32> {
    let mut files = Vec::new();
    for p in &args.paths {
        collect(p, &mut files)?;
    }
    let mut errors = 0;
    let mut loaded = Vec::new();
    for f in &files {
        if f.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            let errs = match crate::report::def::Report::load(f) {
                Ok(r) => {
                    let errs = super::report::check_report(&r);
                    loaded.push(r);
                    errs
                }
                Err(e) => {
                    let text = crate::store::errors::describe(&e);
                    vec![(text.clone(), serde_json::json!({"file": f.display().to_string(), "message": text}))]
                }
            };
            errors += errs.len();
            for (text, json) in errs {
                match args.format {
                    Format::Text => eprintln!("{text}"),
                    Format::Json => super::say(json.to_string()),
                }
            }
            continue;
        }
        let src = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let origin = f.display().to_string();
        if let Err(diags) = crate::compile::compile_all(&src, &HashMap::new()) {
            errors += diags.len();
            report(&diags, &src, &origin, args.format);
        }
    }
    // Across reports: the checked ones, and the built-ins they do not replace.
    if !loaded.is_empty() {
        let builtins = crate::report::builtin::reports()?;
        let unreplaced = builtins.iter().filter(|b| !loaded.iter().any(|r| r.def.name == b.def.name));
        let all: Vec<_> = loaded.iter().chain(unreplaced).collect();
        for text in crate::report::view_names::conflicts(&all) {
            errors += 1;
            match args.format {
                Format::Text => eprintln!("error: {text}"),
                Format::Json => super::say(serde_json::json!({"message": text}).to_string()),
            }
        }
    }
    if args.format == Format::Text {
        eprintln!("checked {} file(s) (queries and reports) for sqlite and postgres: {errors} error(s)", files.len());
    }
    Ok(if errors == 0 { 0 } else { 1 })
}
