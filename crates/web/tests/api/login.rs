//! Logging in to the admin app: every attempt costs the same Argon2 work whether the email has an
//! account or not, and failures make one account wait without locking out the others behind the
//! same address. Passwords attackers try first cannot be set.

use reqwest::StatusCode;
use tidings_store::{NewTeammate, TeammateRole};
use tidings_web::auth::{PasswordCheck, hash_password};
use tidings_web::logins::LoginPolicy;

use super::support::{Mate, servers, servers_with_login_policy};

/// The parameters part of a PHC string (`$argon2id$v=19$m=…,t=…,p=…`), without salt and hash.
fn parameters(hash: &str) -> String {
    hash.split('$').take(4).collect::<Vec<_>>().join("$")
}

#[tokio::test]
async fn known_and_unknown_emails_both_take_the_argon2_path() {
    for s in servers().await {
        let db = s.db;
        let owner = s.store.teammate(s.workspace.id, s.admin_id).await.unwrap().unwrap();
        let invited = s
            .store
            .create_teammate(
                s.workspace.id,
                NewTeammate {
                    email: "no-password@example.test".into(),
                    name: "Not yet".into(),
                    password_hash: None,
                    role: TeammateRole::Admin,
                    created_at: 0,
                },
            )
            .await
            .unwrap();
        let argon2 = parameters(&hash_password("any password at all").unwrap());

        let known = PasswordCheck::for_email(s.store.as_ref(), &owner.email).await.unwrap();
        assert!(!known.is_dummy(), "{db}");
        assert_eq!(Some(known.hash()), owner.password_hash.as_deref(), "{db}");
        assert_eq!(parameters(known.hash()), argon2, "{db}");
        for email in ["nobody@example.test", invited.email.as_str()] {
            let check = PasswordCheck::for_email(s.store.as_ref(), email).await.unwrap();
            assert!(check.is_dummy(), "{db}: {email}");
            assert_eq!(parameters(check.hash()), argon2, "{db}: {email} is verified with other work than a real hash");
            assert!(check.verify("a-long-password").is_none(), "{db}: {email}");
        }
        let known = PasswordCheck::for_email(s.store.as_ref(), &owner.email).await.unwrap();
        assert!(known.verify("a-long-password").is_some_and(|t| t.id == owner.id), "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn failures_make_one_account_wait_while_teammates_behind_the_same_address_log_in() {
    // Three free failures, then ten minutes: longer than any step of this test takes.
    let policy = LoginPolicy { pair_free: 3, first_delay: 600, ..LoginPolicy::default() };
    for s in servers_with_login_policy(policy).await {
        let db = s.db;
        let (_, me) = s.get("/me").await;
        let owner = me["email"].as_str().unwrap().to_owned();
        let grace = "grace@example.test";
        let member = tidings_store::TeammateRole::Member;
        tidings_web::provision::teammate(&s.store, &s.workspace, "Grace", grace, "another-long-password", member)
            .await
            .unwrap();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let log_in = async |email: &str, password: &str| {
            client
                .post(format!("{}/app/login", s.base))
                .form(&[("email", email), ("password", password)])
                .send()
                .await
                .unwrap()
        };

        for _ in 0..3 {
            assert_eq!(log_in(&owner, "not-the-password").await.status(), StatusCode::UNAUTHORIZED, "{db}");
        }
        // Now even the right password waits, and the page says for how long.
        let refused = log_in(&owner, "a-long-password").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{db}");
        assert!(refused.headers().get("set-cookie").is_none(), "{db}");
        let retry_after: i64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=600).contains(&retry_after), "{db}: Retry-After {retry_after}");
        let page = refused.text().await.unwrap();
        assert!(page.contains("Too many failed attempts. Wait ") && page.contains(" minutes, then try again."), "{db}");
        // The same email in other letters is the same account.
        let shouted = log_in(&owner.to_uppercase(), "a-long-password").await;
        assert_eq!(shouted.status(), StatusCode::TOO_MANY_REQUESTS, "{db}");

        // A teammate from the same address is not locked out.
        let other = log_in(grace, "another-long-password").await;
        assert_eq!(other.status(), StatusCode::SEE_OTHER, "{db}: a teammate behind the same address");
        assert!(other.headers()["set-cookie"].to_str().unwrap().starts_with("tidings_session="), "{db}");

        // An email nobody has meets the same limits: they tell nothing about who has an account.
        for _ in 0..3 {
            assert_eq!(log_in("nobody@example.test", "not-it-at-all").await.status(), StatusCode::UNAUTHORIZED);
        }
        let nobody = log_in("nobody@example.test", "not-it-at-all").await;
        assert_eq!(nobody.status(), StatusCode::TOO_MANY_REQUESTS, "{db}");
        assert!(nobody.headers().contains_key("retry-after"), "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn common_passwords_are_refused_when_a_workspace_or_a_teammate_is_created() {
    for s in servers().await {
        let db = s.db;
        // What `tidings setup` and the first start call.
        for (password, says) in
            [("Password1", "most common"), ("qwerty123", "most common"), ("acme analytics", "workspace")]
        {
            let refused =
                tidings_web::provision::workspace(&s.store, "Acme Analytics", "new@example.test", password, "UTC")
                    .await
                    .expect_err(password);
            assert_eq!(refused.errors[0].field.as_deref(), Some("password"), "{db}: {password}");
            assert!(refused.errors[0].message.contains(says), "{db}: {password}: {:?}", refused.errors[0].message);
        }
        assert!(s.store.teammate_by_email("new@example.test").await.unwrap().is_none(), "{db}");

        // Adding a teammate in the settings.
        let owner = Mate::owner(&s).await;
        let add = async |password: &str| {
            let form = [("name", "Grace"), ("email", "grace@example.test"), ("password", password), ("role", "member")];
            owner.form(&s, "/app/settings/teammates", &form).await.1
        };
        let refused = add("ILoveYou").await;
        assert!(refused.contains("This password is one of the most common ones"), "{db}: {refused}");
        assert!(s.store.teammate_by_email("grace@example.test").await.unwrap().is_none(), "{db}: added anyway");
        let added = add("grace-picks-a-long-one").await;
        assert!(added.contains("Grace can now log in as grace@example.test (member)."), "{db}: {added}");
        s.stop().await;
    }
}
