//! CPU and memory-node lists (`0-3`, `0,2`, `1-2,5`): `--cpuset-cpus`, `--cpuset-mems` and the
//! kernel's `cpuset.cpus` they must fall within. moby's `parseUintList`, error texts included.

use std::collections::BTreeSet;

/// The normal maximum number of CPUs on Linux. A request may name larger numbers only when the
/// machine has them: a range like `1-9223372036854775807` must not become a huge set.
const DEFAULT_MAX_CPUS: u32 = 8192;

/// Parses a list; `maximum` 0 means no bound.
pub fn parse_list(val: &str, maximum: u32) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    if val.is_empty() {
        return Ok(out);
    }
    let invalid = || format!("invalid format: {val}");
    let out_of_range = || format!("value of out range, maximum is {maximum}");
    for part in val.split(',') {
        let (lo, hi) = match part.split_once('-') {
            None => {
                let v: u64 = part.parse().map_err(|_| invalid())?;
                (v, v)
            }
            Some((lo, hi)) => {
                let lo: u64 = lo.parse().map_err(|_| invalid())?;
                let hi: u64 = hi.parse().map_err(|_| invalid())?;
                if hi < lo {
                    return Err(invalid());
                }
                (lo, hi)
            }
        };
        if maximum != 0 && hi > u64::from(maximum) {
            return Err(out_of_range());
        }
        let (Ok(lo), Ok(hi)) = (u32::try_from(lo), u32::try_from(hi)) else {
            return Err(invalid());
        };
        out.extend(lo..=hi);
    }
    Ok(out)
}

/// Whether every entry of `requested` is in `available` (the kernel's list). Err when
/// `requested` does not parse.
pub fn is_available(requested: &str, available: &str) -> Result<bool, String> {
    // The machine's own list always parses; an unreadable one counts as empty.
    let available = parse_list(available, 0).unwrap_or_default();
    let max = available
        .iter()
        .next_back()
        .copied()
        .unwrap_or(0)
        .max(DEFAULT_MAX_CPUS);
    let requested = parse_list(requested, max)?;
    Ok(requested.is_subset(&available))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_like_moby() {
        let l = |s: &str| parse_list(s, 0).map(|s| s.into_iter().collect::<Vec<_>>());
        assert_eq!(l("7").unwrap(), vec![7]);
        assert_eq!(l("1-3").unwrap(), vec![1, 2, 3]);
        assert_eq!(l("0,3-4,7,8-10").unwrap(), vec![0, 3, 4, 7, 8, 9, 10]);
        assert_eq!(l("0-0,0,1-2").unwrap(), vec![0, 1, 2]);
        assert_eq!(l("03,1-3").unwrap(), vec![1, 2, 3]);
        assert_eq!(l("").unwrap(), Vec::<u32>::new());
        for bad in ["a", "1-", "-1", "3-1", "1,,2", "1-2-3", " 1"] {
            assert_eq!(
                l(bad).unwrap_err(),
                format!("invalid format: {bad}"),
                "{bad}"
            );
        }
        assert_eq!(
            parse_list("1-9223372036854", 8192).unwrap_err(),
            "value of out range, maximum is 8192"
        );
        assert_eq!(
            parse_list("1-9000", 8192).unwrap_err(),
            "value of out range, maximum is 8192"
        );
    }

    #[test]
    fn availability_is_a_subset_check() {
        assert!(is_available("0-1", "0-3").unwrap());
        assert!(is_available("", "0-3").unwrap());
        assert!(!is_available("2,4", "0-3").unwrap());
        assert!(is_available("x", "0-3").is_err());
    }
}
