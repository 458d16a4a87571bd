//! Who to signal at shutdown, read from `/proc`.
//!
//! As PID 1 that is every process of the namespace but rinit; otherwise only
//! rinit's descendants, so a subreaper never touches a process outside its own
//! tree. `/proc` is trusted only after checking that it shows rinit's own PID
//! namespace (a container can have the host's `/proc` mounted, or none).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

/// One line of `/proc/PID/stat`, the fields rinit needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    /// `comm`: the first 15 bytes of the executable's name.
    pub name: String,
    /// State letter; `Z` for a zombie, which no signal will move.
    pub state: char,
}

/// Parses `/proc/PID/stat`. The name is in parentheses and may itself hold
/// spaces and parentheses, so the fields after it are found from the last `)`.
pub fn parse_stat(text: &str) -> Option<Proc> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text.get(..open)?.trim().parse().ok()?;
    let name = text.get(open + 1..close)?.to_string();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let pgid = rest.next()?.parse().ok()?;
    Some(Proc { pid, ppid, pgid, name, state })
}

/// Whether `proc_root` shows the PID namespace rinit lives in: there,
/// `self` is a link to rinit's own pid.
pub fn shows_own_namespace(proc_root: &Path, own_pid: i32) -> bool {
    fs::read_link(proc_root.join("self"))
        .ok()
        .and_then(|target| target.to_str().and_then(|t| t.parse::<i32>().ok()))
        == Some(own_pid)
}

/// Every process `proc_root` lists. Processes that vanish while it reads are
/// simply left out.
pub fn list(proc_root: &Path) -> Vec<Proc> {
    let Ok(dir) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|text| parse_stat(&text))
        .collect()
}

/// Whom a shutdown signal goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    /// rinit's own pid.
    pub own_pid: i32,
    /// true when rinit is PID 1 of its namespace: every process is in scope.
    /// Otherwise only rinit's descendants are.
    pub whole_namespace: bool,
}

/// The processes to signal, from a listing: never rinit itself, never a
/// zombie, never a pid in `exclude`, never a member of a process group in
/// `exclude_groups`.
pub fn targets(all: &[Proc], scope: Scope, exclude: &[i32], exclude_groups: &[i32]) -> Vec<Proc> {
    let in_scope: HashSet<i32> = if scope.whole_namespace {
        all.iter().map(|p| p.pid).collect()
    } else {
        descendants(all, scope.own_pid)
    };
    all.iter()
        .filter(|p| p.pid != scope.own_pid && in_scope.contains(&p.pid))
        .filter(|p| p.state != 'Z')
        .filter(|p| !exclude.contains(&p.pid) && !exclude_groups.contains(&p.pgid))
        .cloned()
        .collect()
}

/// Every pid below `root` in the parent links.
pub fn descendants(all: &[Proc], root: i32) -> HashSet<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in all {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut found = HashSet::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).map_or(&[][..], Vec::as_slice) {
            // A pid seen twice would mean a cycle in a racy listing; skip it.
            if child != root && found.insert(child) {
                todo.push(child);
            }
        }
    }
    found
}

/// The name of one process, for log lines; `?` once it has gone.
pub fn name_of(proc_root: &Path, pid: i32) -> String {
    fs::read_to_string(proc_root.join(pid.to_string()).join("stat"))
        .ok()
        .and_then(|t| parse_stat(&t))
        .map_or_else(|| "?".to_string(), |p| p.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, pgid: i32, name: &str) -> Proc {
        Proc { pid, ppid, pgid, name: name.to_string(), state: 'S' }
    }

    #[test]
    fn parses_stat_lines_even_with_odd_names() {
        let line = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0";
        assert_eq!(parse_stat(line), Some(p(42, 1, 42, "my (odd) name")));
        let z = parse_stat("7 (sh) Z 1 7 7 0").unwrap();
        assert_eq!(z.state, 'Z');
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn whole_namespace_is_everyone_but_rinit_and_the_excluded() {
        let all = vec![p(1, 0, 1, "rinit"), p(2, 1, 2, "prog"), p(3, 2, 2, "job"), p(4, 1, 4, "daemon")];
        let scope = Scope { own_pid: 1, whole_namespace: true };
        let pids = |v: Vec<Proc>| v.into_iter().map(|p| p.pid).collect::<Vec<_>>();
        assert_eq!(pids(targets(&all, scope, &[], &[])), vec![2, 3, 4]);
        assert_eq!(pids(targets(&all, scope, &[2], &[])), vec![3, 4]);
        assert_eq!(pids(targets(&all, scope, &[2], &[2])), vec![4]);
    }

    #[test]
    fn outside_a_namespace_only_descendants() {
        let all = vec![
            p(1, 0, 1, "init"),
            p(50, 1, 50, "shell"),
            p(100, 50, 100, "rinit"),
            p(101, 100, 101, "prog"),
            p(102, 101, 101, "child"),
            p(103, 102, 103, "grandchild"),
            p(200, 1, 200, "stranger"),
            p(201, 200, 200, "stranger-child"),
        ];
        let scope = Scope { own_pid: 100, whole_namespace: false };
        let mut got: Vec<i32> = targets(&all, scope, &[], &[]).into_iter().map(|p| p.pid).collect();
        got.sort_unstable();
        assert_eq!(got, vec![101, 102, 103]);
        let got: Vec<i32> = targets(&all, scope, &[101], &[101]).into_iter().map(|p| p.pid).collect();
        assert_eq!(got, vec![103]);
    }

    #[test]
    fn zombies_and_cycles_are_harmless() {
        let mut all = vec![p(10, 5, 10, "rinit"), p(11, 10, 11, "a"), p(12, 11, 12, "b"), p(13, 12, 13, "c")];
        all[2].state = 'Z';
        // A racy listing where a pid appears to be its own ancestor.
        all.push(p(11, 13, 11, "a-again"));
        let scope = Scope { own_pid: 10, whole_namespace: false };
        let got: Vec<i32> = targets(&all, scope, &[], &[]).into_iter().map(|p| p.pid).collect();
        assert!(got.contains(&11) && got.contains(&13) && !got.contains(&12) && !got.contains(&10));
    }

    #[test]
    fn reads_this_machines_proc() {
        let me = std::process::id() as i32;
        let all = list(Path::new("/proc"));
        assert!(all.iter().any(|p| p.pid == me));
        assert_ne!(name_of(Path::new("/proc"), me), "?");
        assert_eq!(name_of(Path::new("/proc"), -5), "?");
        assert!(list(Path::new("/nonexistent")).is_empty());
    }

    #[test]
    fn own_namespace_check() {
        let me = std::process::id() as i32;
        assert!(shows_own_namespace(Path::new("/proc"), me));
        assert!(!shows_own_namespace(Path::new("/proc"), me + 1));
        assert!(!shows_own_namespace(Path::new("/nonexistent"), me));
    }
}
