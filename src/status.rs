//! Exit statuses (rinit(1) EXIT STATUS): what rinit exits with for a given end of the
//! program.

/// How the program ended, as `waitpid` reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Signaled(i32),
}

/// Exit status for "setup failed before the program started".
pub const SETUP_FAILED: i32 = 1;
/// Exit status for a bad command line or environment value.
pub const USAGE: i32 = 2;
/// The program was found but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The program was not found.
pub const NOT_FOUND: i32 = 127;
/// The program is gone but its exit status never arrived (only possible if
/// something else reaped it); rinit reports the failure.
pub const STATUS_LOST: i32 = 1;

/// The shell's convention: the program's own code, or 128+N when signal N
/// killed it; then `-e` turns the listed codes into 0.
pub fn exit_code(ended: Ended, remap: &[u8]) -> i32 {
    let code = match ended {
        Ended::Exited(c) => c & 0xff,
        Ended::Signaled(s) => (128 + s) & 0xff,
    };
    if remap.iter().any(|r| i32::from(*r) == code) {
        0
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_pass_through() {
        for c in 0..=255 {
            assert_eq!(exit_code(Ended::Exited(c), &[]), c);
        }
    }

    #[test]
    fn signals_are_128_plus() {
        assert_eq!(exit_code(Ended::Signaled(15), &[]), 143);
        assert_eq!(exit_code(Ended::Signaled(9), &[]), 137);
        assert_eq!(exit_code(Ended::Signaled(2), &[]), 130);
    }

    #[test]
    fn remap_turns_listed_codes_into_zero() {
        assert_eq!(exit_code(Ended::Exited(143), &[143]), 0);
        assert_eq!(exit_code(Ended::Signaled(15), &[143]), 0);
        assert_eq!(exit_code(Ended::Exited(3), &[143, 3]), 0);
        assert_eq!(exit_code(Ended::Exited(4), &[143, 3]), 4);
    }
}
