//! The man page, doc/rinit.1, against the binary: every option `--help`
//! prints is documented there and the reverse, every environment variable
//! rinit reads has its entry and the reverse, the defaults it states are the
//! ones the code uses, every `rinit(1) <SECTION>` reference in the repository
//! names a section that exists (and none cites the old SPEC), and mandoc
//! finds nothing to complain about.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::*;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rinit::cli;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn page() -> String {
    std::fs::read_to_string(root().join("doc/rinit.1")).unwrap()
}

/// roff source to plain text where it matters here: `\-` is `-`.
fn plain(line: &str) -> String {
    line.replace("\\-", "-")
}

/// The lines of section `name` (a `.SH`), up to the next `.SH`.
fn section<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    let mut lines = page.lines().skip_while(|l| {
        let title = l.strip_prefix(".SH ").map(|t| t.trim_matches('"'));
        title != Some(name)
    });
    assert!(lines.next().is_some(), "no section {name} in doc/rinit.1");
    lines.take_while(|l| !l.starts_with(".SH ")).collect()
}

/// The tag line of every `.TP` item of a section, as plain text.
fn items(lines: &[&str]) -> Vec<String> {
    lines.windows(2).filter(|w| w[0] == ".TP").map(|w| plain(w[1])).collect()
}

/// `(short, long)` of every option in a text: `-s, --subreaper`, `--pids-max`.
fn option_names(text: &str) -> Option<(Option<char>, String)> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '"')
        .filter(|w| !w.is_empty() && *w != ".BR" && *w != ".B")
        .collect();
    let long = words.iter().find_map(|w| w.strip_prefix("--"))?;
    let short = words
        .iter()
        .find_map(|w| w.strip_prefix('-').filter(|s| s.len() == 1 && !s.starts_with('-')))
        .and_then(|s| s.chars().next());
    Some((short, long.to_string()))
}

#[test]
fn every_option_in_help_is_in_the_man_page_and_the_reverse() {
    let (code, help, _) = run_plain(["--help"]);
    assert_eq!(code, Some(0));
    let from_help: BTreeSet<_> = help
        .lines()
        .filter(|l| l.starts_with("  ") && l.trim_start().starts_with('-'))
        // The option column ends at the first double space after it.
        .filter_map(|l| option_names(l.trim_start().split("  ").next().unwrap_or_default()))
        .collect();
    assert_eq!(from_help.len(), cli::OPTIONS.len(), "{help}");
    let from_page: BTreeSet<_> = items(&section(&page(), "OPTIONS"))
        .iter()
        .filter_map(|t| option_names(t))
        .collect();
    let missing: Vec<_> = from_help.difference(&from_page).collect();
    let extra: Vec<_> = from_page.difference(&from_help).collect();
    assert!(missing.is_empty(), "in --help but not in the man page's OPTIONS: {missing:?}");
    assert!(extra.is_empty(), "in the man page's OPTIONS but not in --help: {extra:?}");
}

#[test]
fn every_environment_variable_is_in_the_man_page_and_the_reverse() {
    let from_page: BTreeSet<String> = items(&section(&page(), "ENVIRONMENT"))
        .iter()
        .map(|t| t.trim_start_matches(".B ").trim().to_string())
        .collect();
    let read: BTreeSet<String> = cli::ENV_VARS.iter().map(|v| v.to_string()).collect();
    assert_eq!(from_page, read, "ENVIRONMENT entries against the variables rinit reads");
    // And each option's entry names its variables.
    let options = section(&page(), "OPTIONS").join("\n");
    for o in &cli::OPTIONS {
        let entry = plain(&options)
            .split(".TP")
            .find(|item| item.lines().nth(1).is_some_and(|tag| tag.contains(&format!("--{}", o.long))))
            .unwrap_or_default()
            .to_string();
        for var in o.env {
            assert!(entry.contains(var), "--{}'s entry does not name {var}", o.long);
        }
    }
}

#[test]
fn the_man_page_states_the_defaults_and_version_the_code_uses() {
    let page = page();
    let options = plain(&section(&page, "OPTIONS").join("\n"));
    let grace = options.split(".TP").find(|i| i.contains("--grace")).unwrap();
    let default = cli::format_duration(cli::DEFAULT_GRACE);
    assert!(grace.contains(&format!("Default:\n.BR {default} ,")), "--grace entry: {grace}");
    let th = page.lines().find(|l| l.starts_with(".TH ")).unwrap();
    assert!(th.contains(&format!("\"rinit {}\"", env!("CARGO_PKG_VERSION"))), "{th}");
    // The grace table gives the default for the engines it is chosen for.
    let table = section(&page, "SHUTDOWN").join("\n");
    for engine in ["Docker", "Podman"] {
        let row = table.lines().find(|l| l.starts_with(engine)).unwrap();
        assert!(row.contains(&format!("{default} (the default)")), "{row}");
    }
}

/// Every file of the repository a reference can stand in.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" {
                text_files(&path, out);
            }
        } else if [".rs", ".md", ".sh", ".1", ".toml"].iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

#[test]
fn every_reference_to_a_man_page_section_names_one_that_exists() {
    let page = page();
    let sections: BTreeSet<String> = page
        .lines()
        .filter_map(|l| l.strip_prefix(".SH ").or_else(|| l.strip_prefix(".SS ")))
        .map(|t| t.trim_matches('"').to_string())
        .collect();
    let mut files = Vec::new();
    for dir in ["src", "tests", "scripts", "docs", "benches", "fuzz"] {
        if root().join(dir).is_dir() {
            text_files(&root().join(dir), &mut files);
        }
    }
    files.extend(["README.md", "BENCHMARKS.md"].map(|f| root().join(f)));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        // The contract that was outside the repository is the man page now.
        let old_contract = concat!("SPEC", " §");
        assert!(!text.contains(old_contract), "{}: a reference to the old SPEC; name a man page section", file.display());
        for (i, m) in text.match_indices("rinit(1) ") {
            let rest = &text[i + m.len()..];
            // The section name: capitals and spaces, as the page spells it.
            let name: String = rest.chars().take_while(|c| c.is_ascii_uppercase() || *c == ' ').collect();
            let name = name.trim_end();
            if name.len() < 3 {
                continue; // "rinit(1) is ...": not a section reference
            }
            let known = sections.iter().any(|s| name.starts_with(s.as_str()));
            assert!(known, "{}: 'rinit(1) {name}' names no section of doc/rinit.1 ({sections:?})", file.display());
        }
    }
}

#[test]
fn mandoc_lints_the_man_page_clean_and_renders_it() {
    let Ok(out) = Command::new("mandoc").args(["-Tlint", "-W", "style"]).arg(root().join("doc/rinit.1")).output() else {
        skip("mandoc is not installed (scripts/setup.sh installs it)");
        return;
    };
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.is_empty(), "mandoc -Tlint: {said}");
    let out = Command::new("mandoc").args(["-Tutf8"]).arg(root().join("doc/rinit.1")).output().unwrap();
    assert!(out.status.success());
    // Undo the terminal's overstrike (`N\x08N` is a bold N).
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\x08' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    for heading in ["NAME", "SYNOPSIS", "OPTIONS", "ENVIRONMENT", "SIGNALS", "SHUTDOWN", "CGROUPS", "EXIT STATUS", "COMING FROM TINI", "EXAMPLES", "SEE ALSO"] {
        assert!(text.lines().any(|l| l == heading), "rendered page lacks {heading}");
    }
}

#[test]
fn the_readme_options_table_names_every_option_and_its_variables() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("## Options in brief"))
        .take_while(|l| !l.starts_with("## ") || l.starts_with("## Options"))
        .filter(|l| l.starts_with("| `-"))
        .collect();
    for o in &cli::OPTIONS {
        let row = table
            .iter()
            .find(|r| r.contains(&format!("`--{}", o.long)) || r.contains(&format!("`-{}`", o.short.unwrap_or('?'))))
            .unwrap_or_else(|| panic!("README.md's options table has no row for --{}", o.long));
        for var in o.env {
            assert!(row.contains(&format!("`{var}`")), "README.md's row for --{} does not name {var}: {row}", o.long);
        }
    }
}
