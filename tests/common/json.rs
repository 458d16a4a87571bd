//! Reading rinit's exit report (`--report-file`, issue 23): a one-line JSON
//! object of numbers, strings without commas, booleans and nulls, written by
//! rinit by hand; the tests read its fields as written.

/// The value of `key`, as written (`12`, `"sh"`, `null`).
pub fn json_field<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat).unwrap_or_else(|| panic!("no {key} in {json}")) + pat.len();
    let rest = &json[at..];
    let end = match rest.strip_prefix('"') {
        Some(inside) => inside.find('"').unwrap() + 2,
        None => rest.find([',', '}']).unwrap(),
    };
    &rest[..end]
}

pub fn json_number(json: &str, key: &str) -> u64 {
    json_field(json, key).parse().unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}

/// Asserts that `got` is at most `file` and at most `slack` below it: a
/// figure rinit read at its exit against the cgroup file read after it,
/// which can only have grown since by what rinit's own exit (and unshare's)
/// added.
pub fn just_below(what: &str, got: u64, file: u64, slack: u64) {
    assert!(got <= file && file - got <= slack, "{what}: the report's {got} against the file's {file} (at most {slack} more)");
}
