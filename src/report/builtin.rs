//! The built-in reports, compiled into the binary. A file `NAME.yaml` in `./reports` (or the
//! folder given with `--reports`) overrides the built-in of the same name.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

use super::def::{Files, Report};

macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../reports/", $name)))),*]
    };
}

/// Every built-in file, by its path under `reports/`.
static FILES: &[(&str, &str)] = embed![
    "daily.yaml",
    "weekly.yaml",
    "monthly.yaml",
    "credentials.yaml",
    "attackers.yaml",
    "activity.yaml",
    "commands.yaml",
    "downloads.yaml",
    "clients.yaml",
    "tunnels.yaml",
    "exploits.yaml",
    "session.yaml",
    "new-attackers.yaml",
    "durations.yaml",
    "campaigns.yaml",
    "ranks.yaml",
    "templates/summary.json.j2",
];

struct Embedded;

impl Files for Embedded {
    fn read(&self, rel: &str) -> Result<String> {
        FILES
            .iter()
            .find(|(p, _)| *p == rel)
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| anyhow!("no built-in file {rel}"))
    }
}

pub fn builtin_names() -> Vec<&'static str> {
    FILES.iter().filter_map(|(p, _)| p.strip_suffix(".yaml")).collect()
}

pub fn builtin(name: &str) -> Option<Result<Report>> {
    let file = format!("{name}.yaml");
    FILES
        .iter()
        .find(|(p, _)| *p == file)
        .map(|(p, yaml)| Report::parse(yaml, &format!("built-in reports/{p}"), &Embedded))
}

/// Every built-in report, parsed (they are embedded, and a test parses each).
pub fn reports() -> Result<Vec<Report>> {
    builtin_names().into_iter().filter_map(builtin).collect()
}

/// Where user reports live: `--reports DIR`, else `./reports` when it exists.
pub fn user_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(d) => Some(d.to_path_buf()),
        None => Some(PathBuf::from("reports")).filter(|p| p.is_dir()),
    }
}

/// Finds a report by name (or a path to a YAML file): user folder first, then built-ins.
pub fn find(name: &str, dir: Option<&Path>) -> Result<Report> {
    let p = Path::new(name);
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        return Report::load(p);
    }
    if let Some(d) = user_dir(dir) {
        let f = d.join(format!("{name}.yaml"));
        if f.is_file() {
            return Report::load(&f);
        }
    }
    builtin(name).unwrap_or_else(|| {
        let mut names: Vec<String> = all(dir).into_iter().map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        let near = crate::diag::near_names(name, names.iter().map(String::as_str));
        let guess = near.first().map(|n| format!(" (did you mean {n:?}?)")).unwrap_or_default();
        Err(anyhow!("no report named {name:?}{guess}; reports: {} (`cowrieql reports` lists them)", names.join(", ")))
    })
}

/// Every report visible: (name, where it comes from).
pub fn all(dir: Option<&Path>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        builtin_names().into_iter().map(|n| (n.to_string(), "built-in".to_string())).collect();
    if let Some(d) = user_dir(dir) {
        if let Ok(rd) = std::fs::read_dir(&d) {
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect();
            files.sort();
            for f in files {
                let n = f.file_stem().unwrap_or_default().to_string_lossy().to_string();
                out.retain(|(x, _)| *x != n);
                out.push((n, f.display().to_string()));
            }
        }
    }
    out
}
