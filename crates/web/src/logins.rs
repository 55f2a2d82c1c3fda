//! Limits on failed logins to the admin app, per account and per account and client address.
//!
//! Counting per address alone let ten wrong passwords lock everyone behind one NAT out (a whole
//! office, every account). Failures now count:
//! - per account and address: after `pair_free` failures for one account from one address, each
//!   further try waits `first_delay`, doubled with every further failure, up to `max_delay`. This
//!   is what a person who forgot their password meets, and only they meet it;
//! - per account, from any address: the same after `account_free` failures, against guessing
//!   spread over many addresses. Someone with that many addresses can make an account wait, but
//!   never longer than `max_delay` at a time;
//! - per address, over all accounts: `address_max` failures in `address_window` seconds make the
//!   address wait for the window's end, against one address trying a password on many accounts.
//!   The ceiling is far above what a team behind one address reaches by mistyping.
//!
//! An account is the email as typed (trimmed, lowercase), whether or not anyone has it, so the
//! limits tell nothing about who has an account. An IPv6 address counts as its /64, which one
//! host or household usually holds whole. A successful login clears the account's counters;
//! failures are forgotten `forget_after` seconds after the last one. Tries refused while waiting
//! are not failures: they never lengthen the wait. Every method takes `now`, so tests set the clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The numbers behind the limits; see the module's documentation.
#[derive(Clone, Debug)]
pub struct LoginPolicy {
    pub pair_free: u32,
    pub account_free: u32,
    /// Seconds.
    pub first_delay: i64,
    /// Seconds; at most `forget_after`.
    pub max_delay: i64,
    pub address_max: u32,
    /// Seconds.
    pub address_window: i64,
    /// Seconds.
    pub forget_after: i64,
}

impl Default for LoginPolicy {
    /// Five tries from one address (then 1 s, 2 s, 4 s, … up to 15 minutes), twenty from
    /// anywhere, and a hundred failures in 15 minutes from one address over all accounts.
    fn default() -> Self {
        LoginPolicy {
            pair_free: 5,
            account_free: 20,
            first_delay: 1,
            max_delay: 15 * 60,
            address_max: 100,
            address_window: 15 * 60,
            forget_after: 60 * 60,
        }
    }
}

/// Failures counted for one key, and when the last one happened.
#[derive(Clone, Copy, Debug, Default)]
struct Failures {
    count: u32,
    last: i64,
}

impl Failures {
    fn add(&mut self, now: i64, policy: &LoginPolicy) {
        if now - self.last >= policy.forget_after {
            self.count = 0;
        }
        self.count += 1;
        self.last = now;
    }

    /// When the next try is allowed, once more than `free` failures make tries wait.
    fn next_try(&self, free: u32, policy: &LoginPolicy) -> Option<i64> {
        let over = self.count.checked_sub(free)?;
        let factor = 2i64.checked_pow(over).unwrap_or(i64::MAX);
        Some(self.last + policy.first_delay.saturating_mul(factor).min(policy.max_delay))
    }
}

#[derive(Default)]
struct Account {
    failures: Failures,
    from: HashMap<IpAddr, Failures>,
}

#[derive(Default)]
struct Seen {
    accounts: HashMap<String, Account>,
    /// Failures per address over all accounts: the window's start and the count.
    addresses: HashMap<IpAddr, (i64, u32)>,
}

/// The address failures count against: an IPv6 address's /64 (an IPv4 one mapped into IPv6 is
/// the IPv4 one).
fn network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// Entries kept before stale ones are dropped.
const PRUNE_ABOVE: usize = 100_000;

pub struct LoginLimiter {
    policy: LoginPolicy,
    seen: Mutex<Seen>,
}

impl LoginLimiter {
    pub fn new(policy: LoginPolicy) -> Self {
        LoginLimiter { policy, seen: Mutex::default() }
    }

    /// Seconds before `account` may try again from `address`, or `None` when it may try now.
    pub fn wait(&self, account: &str, address: IpAddr, now: i64) -> Option<i64> {
        let p = &self.policy;
        let address = network(address);
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut until = None;
        if let Some(a) = seen.accounts.get(account) {
            until = until.max(a.failures.next_try(p.account_free, p));
            until = until.max(a.from.get(&address).and_then(|f| f.next_try(p.pair_free, p)));
        }
        if let Some(&(start, count)) = seen.addresses.get(&address)
            && count >= p.address_max
        {
            until = until.max(Some(start + p.address_window));
        }
        until.map(|t| t - now).filter(|wait| *wait > 0)
    }

    /// Counts a wrong password (or an unknown email) for `account` from `address`.
    pub fn failed(&self, account: &str, address: IpAddr, now: i64) {
        let p = &self.policy;
        let address = network(address);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.accounts.len() + seen.addresses.len() > PRUNE_ABOVE {
            seen.accounts.retain(|_, a| {
                a.from.retain(|_, f| now - f.last < p.forget_after);
                now - a.failures.last < p.forget_after
            });
            seen.addresses.retain(|_, (start, _)| now - *start < p.address_window);
        }
        let a = seen.accounts.entry(account.to_owned()).or_default();
        a.failures.add(now, p);
        a.from.entry(address).or_default().add(now, p);
        let window = seen.addresses.entry(address).or_insert((now, 0));
        if now - window.0 >= p.address_window {
            *window = (now, 0);
        }
        window.1 += 1;
    }

    /// Clears `account`'s counters after a successful login. The address's count over all
    /// accounts stays: one good password says nothing about the other tries.
    pub fn succeeded(&self, account: &str) {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).accounts.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFICE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));
    const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9));

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginPolicy::default())
    }

    fn fail(l: &LoginLimiter, account: &str, address: IpAddr, times: u32, now: i64) {
        for _ in 0..times {
            l.failed(account, address, now);
        }
    }

    #[test]
    fn five_failures_from_one_address_start_a_wait_that_doubles_up_to_fifteen_minutes() {
        let l = limiter();
        fail(&l, "ada@acme.test", OFFICE, 4, 100);
        assert_eq!(l.wait("ada@acme.test", OFFICE, 100), None, "four failures are free");
        l.failed("ada@acme.test", OFFICE, 100);
        assert_eq!(l.wait("ada@acme.test", OFFICE, 100), Some(1));
        assert_eq!(l.wait("ada@acme.test", OFFICE, 101), None, "the wait is over");
        l.failed("ada@acme.test", OFFICE, 101);
        assert_eq!(l.wait("ada@acme.test", OFFICE, 101), Some(2));
        l.failed("ada@acme.test", OFFICE, 103);
        assert_eq!(l.wait("ada@acme.test", OFFICE, 103), Some(4));
        fail(&l, "ada@acme.test", OFFICE, 20, 200);
        assert_eq!(l.wait("ada@acme.test", OFFICE, 200), Some(15 * 60), "capped");
        assert_eq!(l.wait("ada@acme.test", OFFICE, 200 + 15 * 60 - 1), Some(1));
        assert_eq!(l.wait("ada@acme.test", OFFICE, 200 + 15 * 60), None);
    }

    #[test]
    fn one_persons_failures_lock_out_neither_teammates_behind_the_same_address_nor_themselves_elsewhere() {
        let l = limiter();
        fail(&l, "ada@acme.test", OFFICE, 10, 100);
        assert!(l.wait("ada@acme.test", OFFICE, 100).is_some());
        assert_eq!(l.wait("grace@acme.test", OFFICE, 100), None, "a teammate in the same office");
        assert_eq!(l.wait("ada@acme.test", HOME, 100), None, "the same account from home");
    }

    #[test]
    fn failures_for_one_account_from_many_addresses_make_every_address_wait() {
        let l = limiter();
        let addresses: Vec<IpAddr> = (0..20u8).map(|i| IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i))).collect();
        for a in &addresses[..19] {
            l.failed("ada@acme.test", *a, 100);
        }
        assert_eq!(l.wait("ada@acme.test", ELSEWHERE, 100), None, "nineteen failures are free");
        l.failed("ada@acme.test", addresses[19], 100);
        assert_eq!(l.wait("ada@acme.test", ELSEWHERE, 100), Some(1));
        l.failed("ada@acme.test", addresses[0], 101);
        assert_eq!(l.wait("ada@acme.test", ELSEWHERE, 101), Some(2), "and it grows");
        assert_eq!(l.wait("grace@acme.test", ELSEWHERE, 101), None);
    }

    #[test]
    fn a_successful_login_clears_the_accounts_counters() {
        let l = limiter();
        fail(&l, "ada@acme.test", OFFICE, 8, 100);
        assert!(l.wait("ada@acme.test", OFFICE, 100).is_some());
        l.succeeded("ada@acme.test");
        assert_eq!(l.wait("ada@acme.test", OFFICE, 100), None);
        fail(&l, "ada@acme.test", OFFICE, 4, 100);
        assert_eq!(l.wait("ada@acme.test", OFFICE, 100), None, "counting starts again from zero");
    }

    #[test]
    fn many_accounts_from_one_address_hit_the_address_ceiling_only_far_above_a_teams_mistakes() {
        let l = limiter();
        // A team of twenty, each mistyping four times: nobody waits.
        for person in 0..20 {
            fail(&l, &format!("person{person}@acme.test"), OFFICE, 4, 100);
        }
        assert_eq!(l.wait("person0@acme.test", OFFICE, 100), None);
        assert_eq!(l.wait("new@acme.test", OFFICE, 100), None);
        // Spraying one password over many accounts: the hundredth failure closes the address.
        for victim in 0..20 {
            l.failed(&format!("victim{victim}@acme.test"), OFFICE, 160);
        }
        assert_eq!(l.wait("anyone@acme.test", OFFICE, 160), Some(15 * 60 - 60), "until the window ends");
        assert_eq!(l.wait("anyone@acme.test", HOME, 160), None, "other addresses are not affected");
        assert_eq!(l.wait("anyone@acme.test", OFFICE, 100 + 15 * 60), None);
    }

    #[test]
    fn an_ipv6_address_counts_as_its_64() {
        let l = limiter();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        fail(&l, "ada@acme.test", one, 5, 100);
        assert_eq!(l.wait("ada@acme.test", same_64, 100), Some(1));
        assert_eq!(l.wait("ada@acme.test", other_64, 100), None);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(l.wait("ada@acme.test", mapped, 100), None);
        fail(&l, "grace@acme.test", OFFICE, 5, 100);
        assert_eq!(l.wait("grace@acme.test", mapped, 100), Some(1), "an IPv4 address mapped into IPv6 is itself");
    }

    #[test]
    fn failures_are_forgotten_an_hour_after_the_last_one() {
        let l = limiter();
        fail(&l, "ada@acme.test", OFFICE, 7, 100);
        let later = 100 + 60 * 60;
        assert_eq!(l.wait("ada@acme.test", OFFICE, later), None);
        l.failed("ada@acme.test", OFFICE, later);
        assert_eq!(l.wait("ada@acme.test", OFFICE, later), None, "one failure after an hour starts afresh");
    }
}
