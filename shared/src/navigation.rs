//! The application's navigation, as SPEC.md lays it out, and who sees which entry.
//!
//! Every entry of the product is listed; an entry without a route has no page yet and is never
//! shown, so the menu only ever offers pages that exist.

use crate::api::Me;
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone signed in; what they find there depends on their access groups.
    SignedIn,
    Role(Role),
    /// Holders of any of these roles.
    AnyOf(&'static [Role]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavEntry {
    pub label: &'static str,
    /// `None` while the page does not exist.
    pub route: Option<&'static str>,
    pub audience: Audience,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavSection {
    pub label: &'static str,
    pub entries: Vec<NavEntry>,
}

const fn entry(label: &'static str, route: Option<&'static str>, audience: Audience) -> NavEntry {
    NavEntry {
        label,
        route,
        audience,
    }
}

const MENU: [(&str, &[NavEntry]); 3] = [
    (
        "Change Audit",
        &[
            entry("Changes", Some("/changes"), Audience::SignedIn),
            entry("My requests", Some("/requests/mine"), Audience::SignedIn),
            entry(
                "My approvals",
                Some("/requests/approvals"),
                Audience::SignedIn,
            ),
            entry(
                "Audited sessions",
                Some("/sessions"),
                Audience::Role(Role::Auditor),
            ),
        ],
    ),
    (
        "Credentials",
        &[entry("All", Some("/credentials"), Audience::SignedIn)],
    ),
    (
        "Admin",
        &[
            entry("Users", Some("/admin/users"), Audience::Role(Role::Admin)),
            entry(
                "Access groups",
                Some("/admin/access-groups"),
                Audience::Role(Role::Admin),
            ),
            entry(
                "Devices",
                Some("/admin/devices"),
                Audience::Role(Role::Admin),
            ),
            entry(
                "Credentials",
                Some("/admin/credentials"),
                Audience::Role(Role::Admin),
            ),
            entry(
                "Command rules",
                Some("/admin/command-rules"),
                Audience::AnyOf(&[Role::Admin, Role::Auditor]),
            ),
            entry("Settings", None, Audience::Role(Role::Admin)),
            entry(
                "Audit trail",
                Some("/admin/audit-trail"),
                Audience::Role(Role::Admin),
            ),
            entry(
                "Activity",
                Some("/admin/activity"),
                Audience::AnyOf(&[Role::Admin, Role::Auditor]),
            ),
        ],
    ),
];

/// The sections and entries `me` may open, leaving out entries without a page and empty sections.
pub fn visible_sections(me: &Me) -> Vec<NavSection> {
    visible_in(&MENU, me)
}

fn visible_in(menu: &[(&'static str, &[NavEntry])], me: &Me) -> Vec<NavSection> {
    menu.iter()
        .map(|(label, entries)| NavSection {
            label,
            entries: entries
                .iter()
                .filter(|entry| entry.route.is_some() && may_see(me, entry.audience))
                .copied()
                .collect(),
        })
        .filter(|section| !section.entries.is_empty())
        .collect()
}

fn may_see(me: &Me, audience: Audience) -> bool {
    match audience {
        Audience::SignedIn => true,
        Audience::Role(role) => me.has_role(role),
        Audience::AnyOf(roles) => roles.iter().any(|role| me.has_role(*role)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[Role]) -> Me {
        Me {
            username: "ada".into(),
            display_name: "Ada".into(),
            roles: roles.to_vec(),
        }
    }

    const SAMPLE: [(&str, &[NavEntry]); 2] = [
        (
            "Change Audit",
            &[
                entry("Changes", Some("/changes"), Audience::SignedIn),
                entry("My approvals", None, Audience::SignedIn),
                entry(
                    "Audited sessions",
                    Some("/sessions"),
                    Audience::Role(Role::Auditor),
                ),
            ],
        ),
        (
            "Admin",
            &[entry(
                "Users",
                Some("/admin/users"),
                Audience::Role(Role::Admin),
            )],
        ),
    ];

    fn labels(sections: &[NavSection]) -> Vec<(&str, Vec<&str>)> {
        sections
            .iter()
            .map(|s| (s.label, s.entries.iter().map(|e| e.label).collect()))
            .collect()
    }

    #[test]
    fn hides_entries_without_a_page_and_sections_left_empty() {
        let sections = visible_in(&SAMPLE, &person(&[]));
        assert_eq!(labels(&sections), vec![("Change Audit", vec!["Changes"])]);
    }

    #[test]
    fn shows_role_entries_only_to_holders_of_the_role() {
        let sections = visible_in(&SAMPLE, &person(&[Role::Admin, Role::Auditor]));
        assert_eq!(
            labels(&sections),
            vec![
                ("Change Audit", vec!["Changes", "Audited sessions"]),
                ("Admin", vec!["Users"]),
            ]
        );
    }
}
