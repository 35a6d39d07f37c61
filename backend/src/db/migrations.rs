//! The schema's history, compiled into the binary. Each step is written for both databases
//! (their DDL differs on identity columns and, later, triggers); both must describe the same
//! tables and behave the same.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::AnyPool;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::Backend;

struct Step {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const STEPS: &[Step] = &[
    Step {
        version: 1,
        description: "users and sign-in",
        sqlite: include_str!("../../migrations/sqlite/0001_users_and_sign_in.sql"),
        postgres: include_str!("../../migrations/postgres/0001_users_and_sign_in.sql"),
    },
    Step {
        version: 2,
        description: "audit events",
        sqlite: include_str!("../../migrations/sqlite/0002_audit_events.sql"),
        postgres: include_str!("../../migrations/postgres/0002_audit_events.sql"),
    },
    Step {
        version: 3,
        description: "devices and credentials",
        sqlite: include_str!("../../migrations/sqlite/0003_devices_and_credentials.sql"),
        postgres: include_str!("../../migrations/postgres/0003_devices_and_credentials.sql"),
    },
    Step {
        version: 4,
        description: "access groups and changes",
        sqlite: include_str!("../../migrations/sqlite/0004_access_groups_and_changes.sql"),
        postgres: include_str!("../../migrations/postgres/0004_access_groups_and_changes.sql"),
    },
    Step {
        version: 5,
        description: "names unique in any case",
        sqlite: include_str!("../../migrations/sqlite/0005_names_unique_in_any_case.sql"),
        postgres: include_str!("../../migrations/postgres/0005_names_unique_in_any_case.sql"),
    },
    Step {
        version: 6,
        description: "requests and terminal sessions",
        sqlite: include_str!("../../migrations/sqlite/0006_requests_and_terminal_sessions.sql"),
        postgres: include_str!("../../migrations/postgres/0006_requests_and_terminal_sessions.sql"),
    },
    Step {
        version: 7,
        description: "approvals, passkeys and notifications",
        sqlite: include_str!(
            "../../migrations/sqlite/0007_approvals_passkeys_and_notifications.sql"
        ),
        postgres: include_str!(
            "../../migrations/postgres/0007_approvals_passkeys_and_notifications.sql"
        ),
    },
    Step {
        version: 8,
        description: "trail checkpoints",
        sqlite: include_str!("../../migrations/sqlite/0008_trail_checkpoints.sql"),
        postgres: include_str!("../../migrations/postgres/0008_trail_checkpoints.sql"),
    },
    Step {
        version: 9,
        description: "session transcripts",
        sqlite: include_str!("../../migrations/sqlite/0009_session_transcripts.sql"),
        postgres: include_str!("../../migrations/postgres/0009_session_transcripts.sql"),
    },
    Step {
        version: 10,
        description: "siem cursors",
        sqlite: include_str!("../../migrations/sqlite/0010_siem_cursors.sql"),
        postgres: include_str!("../../migrations/postgres/0010_siem_cursors.sql"),
    },
    Step {
        version: 11,
        description: "session script",
        sqlite: include_str!("../../migrations/sqlite/0011_session_script.sql"),
        postgres: include_str!("../../migrations/postgres/0011_session_script.sql"),
    },
    Step {
        version: 12,
        description: "session findings",
        sqlite: include_str!("../../migrations/sqlite/0012_session_findings.sql"),
        postgres: include_str!("../../migrations/postgres/0012_session_findings.sql"),
    },
    Step {
        version: 13,
        description: "change editors",
        sqlite: include_str!("../../migrations/sqlite/0013_change_editors.sql"),
        postgres: include_str!("../../migrations/postgres/0013_change_editors.sql"),
    },
    Step {
        version: 14,
        description: "siem checkpoints",
        sqlite: include_str!("../../migrations/sqlite/0014_siem_checkpoints.sql"),
        postgres: include_str!("../../migrations/postgres/0014_siem_checkpoints.sql"),
    },
    Step {
        version: 15,
        description: "quiet endpoints",
        sqlite: include_str!("../../migrations/sqlite/0015_quiet_endpoints.sql"),
        postgres: include_str!("../../migrations/postgres/0015_quiet_endpoints.sql"),
    },
    Step {
        version: 16,
        description: "sign-in limits",
        sqlite: include_str!("../../migrations/sqlite/0016_sign_in_limits.sql"),
        postgres: include_str!("../../migrations/postgres/0016_sign_in_limits.sql"),
    },
    Step {
        version: 17,
        description: "account sign-in limit",
        sqlite: include_str!("../../migrations/sqlite/0017_account_sign_in_limit.sql"),
        postgres: include_str!("../../migrations/postgres/0017_account_sign_in_limit.sql"),
    },
    Step {
        version: 18,
        description: "change windows closed",
        sqlite: include_str!("../../migrations/sqlite/0018_change_windows_closed.sql"),
        postgres: include_str!("../../migrations/postgres/0018_change_windows_closed.sql"),
    },
    Step {
        version: 19,
        description: "activity indexes",
        sqlite: include_str!("../../migrations/sqlite/0019_activity_indexes.sql"),
        postgres: include_str!("../../migrations/postgres/0019_activity_indexes.sql"),
    },
    Step {
        version: 20,
        description: "replicas",
        sqlite: include_str!("../../migrations/sqlite/0020_replicas.sql"),
        postgres: include_str!("../../migrations/postgres/0020_replicas.sql"),
    },
    Step {
        version: 21,
        description: "script-only enforcement",
        sqlite: include_str!("../../migrations/sqlite/0021_enforcement.sql"),
        postgres: include_str!("../../migrations/postgres/0021_enforcement.sql"),
    },
    Step {
        version: 22,
        description: "command rules",
        sqlite: include_str!("../../migrations/sqlite/0022_command_rules.sql"),
        postgres: include_str!("../../migrations/postgres/0022_command_rules.sql"),
    },
    Step {
        version: 23,
        description: "a change's own enforcement",
        sqlite: include_str!("../../migrations/sqlite/0023_change_enforcement.sql"),
        postgres: include_str!("../../migrations/postgres/0023_change_enforcement.sql"),
    },
];

#[derive(Debug)]
struct Embedded(Backend);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let migrations = STEPS
            .iter()
            .map(|step| {
                let sql = match self.0 {
                    Backend::Sqlite => step.sqlite,
                    Backend::Postgres => step.postgres,
                };
                Migration::new(
                    step.version,
                    Cow::Borrowed(step.description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

pub async fn run(pool: &AnyPool, backend: Backend) -> Result<(), sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(backend)).await?.run(pool).await
}
