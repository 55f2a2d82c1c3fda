//! Logging in to the admin app: every attempt costs the same Argon2 work whether the email has an
//! account or not.

use tidings_store::{NewTeammate, TeammateRole};
use tidings_web::auth::{PasswordCheck, hash_password};

use super::support::servers;

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
