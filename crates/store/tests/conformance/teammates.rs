//! Teammates and their roles.

use tidings_store::{NewTeammate, TeammateRole};

use super::support::{Stores, workspace};

fn teammate(email: &str, role: TeammateRole) -> NewTeammate {
    NewTeammate { email: email.into(), name: email.into(), password_hash: None, role, created_at: 1 }
}

#[tokio::test]
async fn roles_are_stored_and_moved_only_from_the_role_seen_and_never_to_or_from_owner() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let owner = store.teammates(ws.id).await.unwrap().remove(0);
        assert_eq!(owner.role, TeammateRole::Owner, "{db}");
        let admin =
            store.create_teammate(ws.id, teammate(&format!("admin-{db}@a.test"), TeammateRole::Admin)).await.unwrap();
        let member =
            store.create_teammate(ws.id, teammate(&format!("member-{db}@a.test"), TeammateRole::Member)).await.unwrap();
        assert_eq!(store.teammate(ws.id, member.id).await.unwrap().unwrap().role, TeammateRole::Member, "{db}");

        use TeammateRole::{Admin, Member, Owner};
        assert!(store.set_teammate_role(ws.id, member.id, Member, Admin).await.unwrap(), "{db}");
        assert!(
            !store.set_teammate_role(ws.id, member.id, Member, Admin).await.unwrap(),
            "{db}: not a member any more"
        );
        assert!(!store.set_teammate_role(ws.id, owner.id, Owner, Admin).await.unwrap(), "{db}: the owner stays");
        assert!(!store.set_teammate_role(ws.id, admin.id, Admin, Owner).await.unwrap(), "{db}: nobody is made owner");
        assert!(!store.set_teammate_role(other.id, admin.id, Admin, Member).await.unwrap(), "{db}: another workspace");
        assert!(store.set_teammate_role(ws.id, admin.id, Admin, Member).await.unwrap(), "{db}");

        let roles: Vec<_> = store.teammates(ws.id).await.unwrap().iter().map(|t| (t.id, t.role)).collect();
        assert_eq!(roles, [(owner.id, Owner), (admin.id, Member), (member.id, Admin)], "{db}");
        let others: Vec<_> = store.teammates(other.id).await.unwrap().iter().map(|t| t.role).collect();
        assert_eq!(others, [Owner], "{db}: the other workspace's team is untouched");

        // A role the code does not know is an error, never read as some role.
        store.execute_raw(&format!("UPDATE teammates SET role = 'superuser' WHERE id = {}", member.id)).await.unwrap();
        assert!(store.teammate(ws.id, member.id).await.is_err(), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn a_profile_changes_only_that_teammate_of_that_workspace() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let owner = store.teammates(ws.id).await.unwrap().remove(0);
        let member =
            store.create_teammate(ws.id, teammate(&format!("m-{db}@p.test"), TeammateRole::Member)).await.unwrap();
        assert_eq!(member.avatar_url, None, "{db}: no avatar at first");

        let url = "https://cdn.example.com/m.png";
        let changed = store.update_teammate_profile(ws.id, member.id, "Mia", Some(url)).await.unwrap().unwrap();
        let expected = tidings_store::Teammate { name: "Mia".into(), avatar_url: Some(url.into()), ..member.clone() };
        assert_eq!(changed, expected, "{db}: nothing else of the teammate changed");
        assert_eq!(store.teammate(ws.id, member.id).await.unwrap(), Some(expected.clone()), "{db}: stored");
        assert_eq!(store.teammate(ws.id, owner.id).await.unwrap(), Some(owner.clone()), "{db}: the owner is untouched");

        let other_owner = store.teammates(other.id).await.unwrap().remove(0);
        assert_eq!(
            store.update_teammate_profile(ws.id, other_owner.id, "Stolen", None).await.unwrap(),
            None,
            "{db}: a teammate of another workspace is not there"
        );
        assert_eq!(store.teammate(other.id, other_owner.id).await.unwrap().unwrap().name, other_owner.name, "{db}");

        let cleared = store.update_teammate_profile(ws.id, member.id, "Mia", None).await.unwrap().unwrap();
        assert_eq!(cleared.avatar_url, None, "{db}: the avatar is removed");
    }
    stores.cleanup().await;
}
